import { Migration } from '@mikro-orm/migrations';

export class Migration20261123092158 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "customer_features" ("customer_id" bigint not null, "feature_set_version" int not null, "computed_at" timestamptz not null, "values" jsonb not null, constraint "customer_features_pkey" primary key ("customer_id"));`,
    );

    this.addSql(
      `create table "event" ("id" bigserial primary key, "external_id" text null, "customer_id" bigint not null, "type" text not null, "occurred_at" timestamptz not null, "amount" numeric(14,2) null, "currency" char(3) null, "category" text null, "channel" text null, "properties" jsonb not null default '{}', "ingested_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "event" add constraint "event_external_id_unique" unique ("external_id");`,
    );
    this.addSql(
      `create index "event_customer_id_occurred_at_idx" on "event" ("customer_id", "occurred_at");`,
    );

    this.addSql(
      `create table "feature_refresh_queue" ("customer_id" bigint not null, constraint "feature_refresh_queue_pkey" primary key ("customer_id"));`,
    );

    this.addSql(
      `alter table "customer_features" add constraint "customer_features_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "event" add constraint "event_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "feature_refresh_queue" add constraint "feature_refresh_queue_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );

    // Features read dates out of free-form traits; one malformed value must not fail a refresh.
    this
      .addSql(`create function tagwise_try_date(value text) returns date language plpgsql immutable as $$
      begin
        return value::date;
      exception when others then
        return null;
      end $$;`);

    // Incremental feature refresh recomputes the customers queued here. Statement-level triggers
    // with transition tables keep bulk paths (COPY, set-based merges) set-based, and a queue row
    // committed after a refresh started is simply picked up by the next one.
    this
      .addSql(`create function queue_feature_refresh_from_events() returns trigger language plpgsql as $$
      begin
        insert into feature_refresh_queue (customer_id)
        select distinct customer_id from new_rows
        on conflict do nothing;
        return null;
      end $$;`);
    this
      .addSql(`create function queue_feature_refresh_from_customers() returns trigger language plpgsql as $$
      begin
        insert into feature_refresh_queue (customer_id)
        select id from new_rows
        on conflict do nothing;
        return null;
      end $$;`);
    this.addSql(`create trigger event_queue_feature_refresh after insert on "event"
      referencing new table as new_rows
      for each statement execute function queue_feature_refresh_from_events();`);
    this.addSql(`create trigger customer_insert_queue_feature_refresh after insert on "customer"
      referencing new table as new_rows
      for each statement execute function queue_feature_refresh_from_customers();`);
    this.addSql(`create trigger customer_update_queue_feature_refresh after update on "customer"
      referencing new table as new_rows
      for each statement execute function queue_feature_refresh_from_customers();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists event_queue_feature_refresh on "event";`);
    this.addSql(`drop trigger if exists customer_insert_queue_feature_refresh on "customer";`);
    this.addSql(`drop trigger if exists customer_update_queue_feature_refresh on "customer";`);
    this.addSql(`drop function if exists queue_feature_refresh_from_events();`);
    this.addSql(`drop function if exists queue_feature_refresh_from_customers();`);
    this.addSql(`drop function if exists tagwise_try_date(text);`);
    this.addSql(`drop table if exists "customer_features" cascade;`);

    this.addSql(`drop table if exists "event" cascade;`);

    this.addSql(`drop table if exists "feature_refresh_queue" cascade;`);
  }
}
