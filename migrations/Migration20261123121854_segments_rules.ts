import { Migration } from '@mikro-orm/migrations';

export class Migration20261123121854 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "rule_run" ("id" bigserial primary key, "dry_run" boolean not null, "status" text check ("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')) not null default 'QUEUED', "origin" text not null, "created_by" text null, "reports" jsonb not null default '[]', "error" text null, "created_at" timestamptz not null default now(), "finished_at" timestamptz null);`,
    );

    this.addSql(
      `create table "segment" ("id" bigserial primary key, "key" text not null, "name" text not null, "description" text null, "definition" jsonb not null, "created_by" text null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(`alter table "segment" add constraint "segment_key_unique" unique ("key");`);

    this.addSql(
      `create table "rule" ("id" bigserial primary key, "name" text not null, "description" text null, "definition" jsonb not null, "tag_id" bigint not null, "mode" text check ("mode" in ('APPLY_ONLY', 'APPLY_AND_RETRACT')) not null default 'APPLY_ONLY', "enabled" boolean not null default true, "priority" int not null default 0, "trigger" boolean not null default false, "created_by" text null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(`alter table "rule" add constraint "rule_name_unique" unique ("name");`);

    this.addSql(
      `create table "rule_conflict" ("id" bigserial primary key, "rule_id" bigint not null, "customer_id" bigint not null, "tag_id" bigint not null, "kind" text check ("kind" in ('RETRACT_APPROVED', 'APPLY_REJECTED', 'REPLACE_APPROVED')) not null, "run_id" bigint null, "created_at" timestamptz not null default now(), "last_seen_at" timestamptz not null default now());`,
    );
    this.addSql(
      `create index "rule_conflict_rule_id_id_idx" on "rule_conflict" ("rule_id", "id");`,
    );
    this.addSql(
      `alter table "rule_conflict" add constraint "rule_conflict_uq" unique ("rule_id", "customer_id", "tag_id", "kind");`,
    );

    this.addSql(
      `alter table "rule" add constraint "rule_tag_id_foreign" foreign key ("tag_id") references "tag" ("id") on update cascade on delete restrict;`,
    );

    this.addSql(
      `alter table "rule_conflict" add constraint "rule_conflict_rule_id_foreign" foreign key ("rule_id") references "rule" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "rule_conflict" add constraint "rule_conflict_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "rule_conflict" add constraint "rule_conflict_tag_id_foreign" foreign key ("tag_id") references "tag" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "rule_conflict" add constraint "rule_conflict_run_id_foreign" foreign key ("run_id") references "rule_run" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `create index "event_type_occurred_at_idx" on "event" ("type", "occurred_at") include ("customer_id", "category");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "rule_conflict" drop constraint "rule_conflict_run_id_foreign";`);

    this.addSql(`alter table "rule_conflict" drop constraint "rule_conflict_rule_id_foreign";`);

    this.addSql(`drop table if exists "rule_run" cascade;`);

    this.addSql(`drop table if exists "segment" cascade;`);

    this.addSql(`drop table if exists "rule" cascade;`);

    this.addSql(`drop table if exists "rule_conflict" cascade;`);

    this.addSql(`drop index "event_type_occurred_at_idx";`);
  }
}
