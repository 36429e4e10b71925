import { Migration } from '@mikro-orm/migrations';

/**
 * Rule conflicts can be resolved (resolveRuleConflict): a resolved row stays, for the record and
 * because a kept decision silences later runs, so only open rows are unique per (rule, customer,
 * tag, kind).
 */
export class Migration20261206160000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "rule_conflict" drop constraint "rule_conflict_uq";`);
    this.addSql(
      `alter table "rule_conflict" add column "resolution" text check ("resolution" in ('KEEP_DECISION', 'ACCEPT_RULE')) null, add column "resolved_at" timestamptz null, add column "resolved_by" text null;`,
    );
    this.addSql(
      `create index "rule_conflict_kept_idx" on "rule_conflict" ("rule_id", "customer_id", "tag_id") where "resolution" = 'KEEP_DECISION';`,
    );
    this.addSql(
      `create unique index "rule_conflict_open_uq" on "rule_conflict" ("rule_id", "customer_id", "tag_id", "kind") where "resolved_at" is null;`,
    );
  }

  override async down(): Promise<void> {
    // Resolved rows would break the full unique constraint: they go with the columns.
    this.addSql(`delete from "rule_conflict" where "resolved_at" is not null;`);
    this.addSql(`drop index "rule_conflict_kept_idx";`);
    this.addSql(`drop index "rule_conflict_open_uq";`);
    this.addSql(
      `alter table "rule_conflict" drop column "resolution", drop column "resolved_at", drop column "resolved_by";`,
    );
    this.addSql(
      `alter table "rule_conflict" add constraint "rule_conflict_uq" unique ("rule_id", "customer_id", "tag_id", "kind");`,
    );
  }
}
