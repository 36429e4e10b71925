import { Migration } from '@mikro-orm/migrations';

/**
 * A pending suggestion stops being a question once the customer holds its tag, however the tag
 * came (by hand, a rule, an import, a merge, a correction), or once its tag is deprecated or
 * merged away: it becomes RETIRED instead of waiting in the queue. Statement triggers, so every
 * writer gets this by construction; the queue's tallies follow through the update trigger on
 * tag_suggestion.
 *
 * customer_tag's insert already captures its rows for the tag reference check; retiring joins
 * them to the pending unique index (customer_id, tag_id), one probe per inserted row. The join
 * method is pinned: PL/pgSQL keeps the plan of a trigger's first call, and a hash join chosen for a
 * rule run's rows reads every suggestion in the table, then for a single hand-applied tag too
 * (200,000 inserted rows against 720,000 pending suggestions, none matching: 0.6 s probing, 1.2 s
 * hashing).
 *
 * Sampled auto-applied suggestions stay: their own run inserts the tag in the same statement, and
 * they are in the queue to have the model's decision checked. Rows locked by someone else are
 * skipped: a reviewer deciding one holds its lock while inserting the same customer_tag row, so
 * waiting could deadlock, and the reviewer's decision settles it anyway.
 *
 * Deprecating or merging a tag reads the table once (no index leads with tag_id, and adding one
 * would cost every scoring run a million more index entries); other updates of tag find no
 * withdrawn tag and stop at the first row.
 */
export class Migration20261206093000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function retire_held_suggestions() returns trigger language plpgsql
      set enable_hashjoin = off set enable_mergejoin = off as $$
      begin
        update tag_suggestion s set status = 'RETIRED', reviewed_at = now()
        from (
          select p.id from new_rows n
          join tag_suggestion p on p.customer_id = n.customer_id and p.tag_id = n.tag_id
          where p.status = 'PENDING' and not p.auto_applied
          for update of p skip locked
        ) held
        where s.id = held.id;
        return null;
      end $$;`);
    this.addSql(`create trigger customer_tag_retire_suggestions after insert on "customer_tag"
      referencing new table as new_rows
      for each statement execute function retire_held_suggestions();`);

    this
      .addSql(`create function retire_withdrawn_tag_suggestions() returns trigger language plpgsql as $$
      begin
        update tag_suggestion s set status = 'RETIRED', reviewed_at = now()
        where s.status = 'PENDING' and s.tag_id in (
          select n.id from new_rows n join old_rows o on o.id = n.id
          where (n.status = 'DEPRECATED' and o.status <> 'DEPRECATED')
             or (n.merged_into_id is not null and o.merged_into_id is distinct from n.merged_into_id)
        );
        return null;
      end $$;`);
    this.addSql(`create trigger tag_retire_suggestions after update on "tag"
      referencing old table as old_rows new table as new_rows
      for each statement execute function retire_withdrawn_tag_suggestions();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists tag_retire_suggestions on "tag";`);
    this.addSql(`drop function if exists retire_withdrawn_tag_suggestions();`);
    this.addSql(`drop trigger if exists customer_tag_retire_suggestions on "customer_tag";`);
    this.addSql(`drop function if exists retire_held_suggestions();`);
  }
}
