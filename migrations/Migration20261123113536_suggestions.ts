import { Migration } from '@mikro-orm/migrations';

export class Migration20261123113536 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "suggestion_run" ("id" bigserial primary key, "status" text check ("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')) not null default 'QUEUED', "model_version_id" bigint null, "params" jsonb not null, "progress" jsonb null, "report" jsonb null, "error" text null, "created_by" text null, "created_at" timestamptz not null default now(), "finished_at" timestamptz null);`,
    );

    this.addSql(
      `create table "suggestion_tally" ("id" bigserial primary key, "tag_id" bigint not null, "status" text check ("status" in ('PENDING', 'APPROVED', 'REJECTED', 'CORRECTED', 'SUPERSEDED', 'AUTO_APPLIED')) not null, "n" bigint not null);`,
    );
    this.addSql(
      `create index "suggestion_tally_status_tag_idx" on "suggestion_tally" ("status", "tag_id");`,
    );

    this.addSql(
      `create table "tag_suggestion" ("id" bigserial primary key, "customer_id" bigint not null, "tag_id" bigint not null, "source" text check ("source" in ('MODEL', 'CLUSTER')) not null, "kind" text check ("kind" in ('ADD', 'CORRECTION')) not null, "replaces_tag_id" bigint null, "confidence" real not null, "threshold" real not null, "margin" real not null, "customer_value" real not null default 0, "model_version_id" bigint not null, "cluster_id" bigint null, "explanation" jsonb not null, "status" text check ("status" in ('PENDING', 'APPROVED', 'REJECTED', 'CORRECTED', 'SUPERSEDED', 'AUTO_APPLIED')) not null default 'PENDING', "auto_applied" boolean not null default false, "run_id" bigint null, "created_at" timestamptz not null default now(), "reviewed_by" text null, "reviewed_at" timestamptz null, "review_note" text null, "corrected_tag_id" bigint null);`,
    );
    this.addSql(
      `create index "tag_suggestion_decided_idx" on "tag_suggestion" ("model_version_id", "tag_id", "status") where status in ('APPROVED', 'REJECTED', 'CORRECTED');`,
    );
    this.addSql(
      `create index "tag_suggestion_customer_idx" on "tag_suggestion" ("customer_id", "tag_id");`,
    );
    this.addSql(
      `create index "tag_suggestion_tag_status_idx" on "tag_suggestion" ("tag_id", "status", "margin", "id");`,
    );
    this.addSql(`create index "tag_suggestion_queue_id_idx" on "tag_suggestion" ("status", "id");`);
    this.addSql(
      `create index "tag_suggestion_queue_value_idx" on "tag_suggestion" ("status", "customer_value", "id");`,
    );
    this.addSql(
      `create index "tag_suggestion_queue_confidence_idx" on "tag_suggestion" ("status", "confidence", "id");`,
    );
    this.addSql(
      `create index "tag_suggestion_queue_margin_idx" on "tag_suggestion" ("status", "margin", "id");`,
    );
    this.addSql(
      `create unique index "tag_suggestion_pending_uq" on "tag_suggestion" ("customer_id", "tag_id") where status = 'PENDING';`,
    );

    this.addSql(
      `create table "review_log" ("id" bigserial primary key, "suggestion_id" bigint not null, "customer_id" bigint not null, "tag_id" bigint not null, "action" text check ("action" in ('APPROVED', 'REJECTED', 'CORRECTED', 'AUTO_APPLIED')) not null, "confidence" real not null, "model_version_id" bigint not null, "actor" text null, "note" text null, "bulk" jsonb null, "occurred_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "review_log_customer_id_idx" on "review_log" ("customer_id", "id");`);
    this.addSql(`create index "review_log_suggestion_id_idx" on "review_log" ("suggestion_id");`);

    this.addSql(
      `alter table "suggestion_run" add constraint "suggestion_run_model_version_id_foreign" foreign key ("model_version_id") references "model_version" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_tag_id_foreign" foreign key ("tag_id") references "tag" ("id") on update cascade on delete restrict;`,
    );
    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_replaces_tag_id_foreign" foreign key ("replaces_tag_id") references "tag" ("id") on update cascade on delete restrict;`,
    );
    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_model_version_id_foreign" foreign key ("model_version_id") references "model_version" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_cluster_id_foreign" foreign key ("cluster_id") references "cluster" ("id") on update cascade on delete set null;`,
    );
    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_corrected_tag_id_foreign" foreign key ("corrected_tag_id") references "tag" ("id") on update cascade on delete restrict;`,
    );

    this.addSql(
      `alter table "review_log" add constraint "review_log_suggestion_id_foreign" foreign key ("suggestion_id") references "tag_suggestion" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "review_log" add constraint "review_log_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "review_log" add constraint "review_log_tag_id_foreign" foreign key ("tag_id") references "tag" ("id") on update cascade on delete restrict;`,
    );
    this.addSql(
      `alter table "review_log" add constraint "review_log_model_version_id_foreign" foreign key ("model_version_id") references "model_version" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "tag" add column "auto_apply_threshold" real null, add column "auto_apply_sample_rate" real not null default 0.1;`,
    );

    // The review log is an audit trail like tag_history: rows are appended, never changed
    // (deletes stay possible so a customer's erasure cascades).
    this.addSql(`create trigger review_log_append_only before update on "review_log"
      for each row execute function tag_history_append_only();`);

    // Statement triggers with transition tables: one delta row per (tag, status) a statement
    // touched, so a scoring run inserting a million suggestions adds a handful of rows.
    this.addSql(`create function suggestion_tally() returns trigger language plpgsql as $$
      begin
        if tg_op in ('INSERT', 'UPDATE') then
          insert into suggestion_tally (tag_id, status, n)
          select tag_id, status, count(*) from new_rows group by tag_id, status;
        end if;
        if tg_op in ('DELETE', 'UPDATE') then
          insert into suggestion_tally (tag_id, status, n)
          select tag_id, status, -count(*) from old_rows group by tag_id, status;
        end if;
        return null;
      end $$;`);
    this.addSql(`create trigger suggestion_tally_insert after insert on "tag_suggestion"
      referencing new table as new_rows
      for each statement execute function suggestion_tally();`);
    this.addSql(`create trigger suggestion_tally_update after update on "tag_suggestion"
      referencing old table as old_rows new table as new_rows
      for each statement execute function suggestion_tally();`);
    this.addSql(`create trigger suggestion_tally_delete after delete on "tag_suggestion"
      referencing old table as old_rows
      for each statement execute function suggestion_tally();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists suggestion_tally() cascade;`);
    this.addSql(`alter table "review_log" drop constraint "review_log_suggestion_id_foreign";`);

    this.addSql(`drop table if exists "suggestion_run" cascade;`);

    this.addSql(`drop table if exists "suggestion_tally" cascade;`);

    this.addSql(`drop table if exists "tag_suggestion" cascade;`);

    this.addSql(`drop table if exists "review_log" cascade;`);

    this.addSql(
      `alter table "tag" drop column "auto_apply_threshold", drop column "auto_apply_sample_rate";`,
    );
  }
}
