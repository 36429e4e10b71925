import { Migration } from '@mikro-orm/migrations';

/** Customer-owned tables, in the order the erasure trigger locks them (tag_negative is new). */
const OWNED = [
  'event',
  'customer_features',
  'feature_refresh_queue',
  'customer_cluster',
  'customer_tag',
  'tag_history',
  'tag_suggestion',
  'review_log',
  'rule_conflict',
  'tag_negative',
];

const erasure = (
  tables: string[],
) => `create or replace function customer_erased() returns trigger language plpgsql as $$
      begin
        lock table ${tables.join(', ')} in share row exclusive mode;
        ${tables.map((t) => `delete from ${t} where customer_id in (select id from old_rows);`).join('\n        ')}
        return null;
      end $$;`;

/**
 * Known labels: explicit negatives (tag_negative), tags whose rule-made holdings count as labels,
 * a first-seen date for customers, and a RETIRED suggestion status. tag_negative is bulk-written
 * like customer_tag, so it gets the same statement-level checks instead of foreign keys (see
 * *_customer_erasure.ts and *_tag_reference_checks.ts); a deleted tag takes its negatives along.
 */
export class Migration20261205141539 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "tag_negative" ("customer_id" bigint not null, "tag_id" bigint not null, "source" text check ("source" in ('IMPORT', 'REVIEW')) not null, "actor" text null, "created_at" timestamptz not null default now(), constraint "tag_negative_pkey" primary key ("customer_id", "tag_id"));`,
    );
    this.addSql(
      `create index "tag_negative_tag_id_customer_id_idx" on "tag_negative" ("tag_id", "customer_id");`,
    );

    this.addSql(
      `alter table "suggestion_tally" drop constraint if exists "suggestion_tally_status_check";`,
    );

    this.addSql(
      `alter table "tag_suggestion" drop constraint if exists "tag_suggestion_status_check";`,
    );

    this.addSql(`alter table "customer" add column "first_seen_at" timestamptz null;`);

    this.addSql(
      `alter table "suggestion_tally" add constraint "suggestion_tally_status_check" check("status" in ('PENDING', 'APPROVED', 'REJECTED', 'CORRECTED', 'SUPERSEDED', 'AUTO_APPLIED', 'RETIRED'));`,
    );

    this.addSql(`alter table "tag" add column "learn_from_rules" boolean not null default false;`);

    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_status_check" check("status" in ('PENDING', 'APPROVED', 'REJECTED', 'CORRECTED', 'SUPERSEDED', 'AUTO_APPLIED', 'RETIRED'));`,
    );

    for (const event of ['insert', 'update']) {
      this
        .addSql(`create trigger tag_negative_tag_references_${event} after ${event} on "tag_negative"
        referencing new table as new_rows
        for each statement execute function check_tag_references('tag_id');`);
    }
    this.addSql(`create function tag_deleted_negatives() returns trigger language plpgsql as $$
      begin
        delete from tag_negative where tag_id in (select id from old_rows);
        return null;
      end $$;`);
    this.addSql(`create trigger tag_deleted_negatives after delete on "tag"
      referencing old table as old_rows
      for each statement execute function tag_deleted_negatives();`);
    this.addSql(erasure(OWNED));
  }

  override async down(): Promise<void> {
    this.addSql(erasure(OWNED.filter((t) => t !== 'tag_negative')));
    this.addSql(`drop trigger if exists tag_deleted_negatives on "tag";`);
    this.addSql(`drop function if exists tag_deleted_negatives();`);
    this.addSql(`drop table if exists "tag_negative" cascade;`);

    this.addSql(
      `alter table "suggestion_tally" drop constraint if exists "suggestion_tally_status_check";`,
    );

    this.addSql(
      `alter table "tag_suggestion" drop constraint if exists "tag_suggestion_status_check";`,
    );

    this.addSql(`alter table "customer" drop column "first_seen_at";`);

    this.addSql(
      `alter table "suggestion_tally" add constraint "suggestion_tally_status_check" check("status" in ('PENDING', 'APPROVED', 'REJECTED', 'CORRECTED', 'SUPERSEDED', 'AUTO_APPLIED'));`,
    );

    this.addSql(`alter table "tag" drop column "learn_from_rules";`);

    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_status_check" check("status" in ('PENDING', 'APPROVED', 'REJECTED', 'CORRECTED', 'SUPERSEDED', 'AUTO_APPLIED'));`,
    );
  }
}
