import { Migration } from '@mikro-orm/migrations';

export class Migration20261123090944 extends Migration {
  override async up(): Promise<void> {
    // Trigram index for the free-text customer search.
    this.addSql(`create extension if not exists pg_trgm;`);
    this.addSql(
      `create table "api_key" ("id" bigserial primary key, "name" text not null, "role" text check ("role" in ('VIEWER', 'REVIEWER', 'DATA_SCIENTIST', 'ADMIN')) not null, "key_hash" text not null, "key_prefix" text not null, "created_at" timestamptz not null default now(), "revoked_at" timestamptz null);`,
    );
    this.addSql(
      `alter table "api_key" add constraint "api_key_key_hash_unique" unique ("key_hash");`,
    );

    this.addSql(
      `create table "app_state" ("key" text not null, "value" jsonb not null, "updated_at" timestamptz not null default now(), constraint "app_state_pkey" primary key ("key"));`,
    );

    this.addSql(
      `create table "customer" ("id" bigserial primary key, "external_id" text not null, "name" text not null default '', "email" text null, "phone" text null, "gender" text null, "birth_year" int null, "region" text null, "city" text null, "industry" text null, "company_size" int null, "lifecycle_stage" text null, "attributes" jsonb not null default '{}', "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "customer" add constraint "customer_external_id_unique" unique ("external_id");`,
    );
    this.addSql(
      `create index "customer_search_idx" on "customer" using gin ((lower("name" || ' ' || coalesce("email", ''))) gin_trgm_ops);`,
    );
    this.addSql(
      `create index "customer_attributes_idx" on "customer" using gin ("attributes" jsonb_path_ops);`,
    );
    this.addSql(`create index "customer_updated_at_id_idx" on "customer" ("updated_at", "id");`);
    this.addSql(`create index "customer_created_at_id_idx" on "customer" ("created_at", "id");`);
    this.addSql(`create index "customer_name_id_idx" on "customer" ("name", "id");`);

    this.addSql(
      `create table "tag_category" ("id" bigserial primary key, "key" text not null, "name" text not null, "description" text null, "kind" text check ("kind" in ('DEMOGRAPHIC', 'BEHAVIOUR', 'INTEREST', 'VALUE', 'LIFECYCLE', 'INTERACTION', 'OTHER')) not null, "parent_id" bigint null, "exclusive" boolean not null default false, "suggestable" boolean not null default false, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "tag_category" add constraint "tag_category_key_unique" unique ("key");`,
    );

    this.addSql(
      `create table "tag" ("id" bigserial primary key, "key" text not null, "name" text not null, "description" text null, "color" text null, "category_id" bigint not null, "status" text check ("status" in ('ACTIVE', 'DEPRECATED')) not null default 'ACTIVE', "merged_into_id" bigint null, "deprecated_at" timestamptz null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(`alter table "tag" add constraint "tag_key_unique" unique ("key");`);
    this.addSql(`create index "tag_category_id_idx" on "tag" ("category_id");`);

    this.addSql(
      `create table "customer_tag" ("customer_id" bigint not null, "tag_id" bigint not null, "source" text check ("source" in ('MANUAL', 'RULE', 'TRIGGER', 'IMPORT', 'MODEL')) not null, "confidence" real null, "model_version" text null, "applied_by" text null, "applied_at" timestamptz not null default now(), "note" text null, constraint "customer_tag_pkey" primary key ("customer_id", "tag_id"));`,
    );
    this.addSql(
      `create index "customer_tag_tag_id_customer_id_idx" on "customer_tag" ("tag_id", "customer_id");`,
    );

    this.addSql(
      `create table "tag_history" ("id" bigserial primary key, "customer_id" bigint not null, "tag_id" bigint not null, "action" text check ("action" in ('APPLIED', 'REMOVED', 'REPLACED', 'MERGED')) not null, "source" text check ("source" in ('MANUAL', 'RULE', 'TRIGGER', 'IMPORT', 'MODEL')) not null, "related_tag_id" bigint null, "before" jsonb null, "after" jsonb null, "actor" text null, "note" text null, "occurred_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "tag_history_tag_id_idx" on "tag_history" ("tag_id");`);
    this.addSql(
      `create index "tag_history_customer_id_id_idx" on "tag_history" ("customer_id", "id");`,
    );

    this.addSql(
      `alter table "tag_category" add constraint "tag_category_parent_id_foreign" foreign key ("parent_id") references "tag_category" ("id") on update cascade on delete restrict;`,
    );

    this.addSql(
      `alter table "tag" add constraint "tag_category_id_foreign" foreign key ("category_id") references "tag_category" ("id") on update cascade on delete restrict;`,
    );
    this.addSql(
      `alter table "tag" add constraint "tag_merged_into_id_foreign" foreign key ("merged_into_id") references "tag" ("id") on update cascade on delete restrict;`,
    );

    this.addSql(
      `alter table "customer_tag" add constraint "customer_tag_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "customer_tag" add constraint "customer_tag_tag_id_foreign" foreign key ("tag_id") references "tag" ("id") on update cascade on delete restrict;`,
    );

    this.addSql(
      `alter table "tag_history" add constraint "tag_history_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "tag_history" add constraint "tag_history_tag_id_foreign" foreign key ("tag_id") references "tag" ("id") on update cascade on delete restrict;`,
    );
    this.addSql(
      `alter table "tag_history" add constraint "tag_history_related_tag_id_foreign" foreign key ("related_tag_id") references "tag" ("id") on update cascade on delete restrict;`,
    );

    // Tag history is an audit trail: rows are appended, never changed.
    this.addSql(`create function tag_history_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'tag_history is append-only';
      end $$;`);
    this.addSql(`create trigger tag_history_append_only before update on "tag_history"
      for each row execute function tag_history_append_only();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists tag_history_append_only on "tag_history";`);
    this.addSql(`drop function if exists tag_history_append_only();`);
    this.addSql(`alter table "customer_tag" drop constraint "customer_tag_customer_id_foreign";`);

    this.addSql(`alter table "tag_history" drop constraint "tag_history_customer_id_foreign";`);

    this.addSql(`alter table "tag_category" drop constraint "tag_category_parent_id_foreign";`);

    this.addSql(`alter table "tag" drop constraint "tag_category_id_foreign";`);

    this.addSql(`alter table "tag" drop constraint "tag_merged_into_id_foreign";`);

    this.addSql(`alter table "customer_tag" drop constraint "customer_tag_tag_id_foreign";`);

    this.addSql(`alter table "tag_history" drop constraint "tag_history_tag_id_foreign";`);

    this.addSql(`alter table "tag_history" drop constraint "tag_history_related_tag_id_foreign";`);

    this.addSql(`drop table if exists "api_key" cascade;`);

    this.addSql(`drop table if exists "app_state" cascade;`);

    this.addSql(`drop table if exists "customer" cascade;`);

    this.addSql(`drop table if exists "tag_category" cascade;`);

    this.addSql(`drop table if exists "tag" cascade;`);

    this.addSql(`drop table if exists "customer_tag" cascade;`);

    this.addSql(`drop table if exists "tag_history" cascade;`);
  }
}
