import { Migration } from '@mikro-orm/migrations';

/** Customer-owned tables, in the order the erasure trigger locks them. */
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
];

/**
 * No table references customer by foreign key any more. Each per-row check took a key-share lock
 * on the customer row, which rewrites the customer's heap page: bulk writers (imports, rule runs,
 * feature refreshes, scoring) spent half their time on it — a rule adding 400,000 tags with their
 * history took 17.4 s with the two keys and 8.4 s without. Erasing a customer still erases what
 * they own, through one statement trigger. It first locks the owned tables against writers, so a
 * writer that read the customer before the erasure has committed by the time its rows are erased,
 * and one that starts after it sees the customer gone: no row outlives its customer.
 */
export class Migration20261123164905 extends Migration {
  override async up(): Promise<void> {
    for (const table of OWNED.filter((t) => t !== 'tag_suggestion')) {
      this.addSql(`alter table "${table}" drop constraint "${table}_customer_id_foreign";`);
    }
    this.addSql(`drop trigger if exists customer_delete_suggestions on "customer";`);
    this.addSql(`drop function if exists tag_suggestion_customer_deleted();`);
    this.addSql(`create function customer_erased() returns trigger language plpgsql as $$
      begin
        lock table ${OWNED.join(', ')} in share row exclusive mode;
        ${OWNED.map((t) => `delete from ${t} where customer_id in (select id from old_rows);`).join('\n        ')}
        return null;
      end $$;`);
    this.addSql(`create trigger customer_erased after delete on "customer"
      referencing old table as old_rows
      for each statement execute function customer_erased();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists customer_erased on "customer";`);
    this.addSql(`drop function if exists customer_erased();`);
    this
      .addSql(`create function tag_suggestion_customer_deleted() returns trigger language plpgsql as $$
      begin
        delete from tag_suggestion where customer_id in (select id from old_rows);
        return null;
      end $$;`);
    this.addSql(`create trigger customer_delete_suggestions after delete on "customer"
      referencing old table as old_rows
      for each statement execute function tag_suggestion_customer_deleted();`);
    for (const table of OWNED.filter((t) => t !== 'tag_suggestion')) {
      this.addSql(
        `alter table "${table}" add constraint "${table}_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
      );
    }
  }
}
