import { Migration } from '@mikro-orm/migrations';

/**
 * The customer foreign key of tag_suggestion locked a customer row per inserted suggestion (a
 * million row locks, each rewriting a customer page, per scoring run); erasing a customer still
 * erases their suggestions, through a statement trigger.
 */
export class Migration20261123133705 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "tag_suggestion" drop constraint "tag_suggestion_customer_id_foreign";`,
    );
    this
      .addSql(`create function tag_suggestion_customer_deleted() returns trigger language plpgsql as $$
      begin
        delete from tag_suggestion where customer_id in (select id from old_rows);
        return null;
      end $$;`);
    this.addSql(`create trigger customer_delete_suggestions after delete on "customer"
      referencing old table as old_rows
      for each statement execute function tag_suggestion_customer_deleted();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists customer_delete_suggestions on "customer";`);
    this.addSql(`drop function if exists tag_suggestion_customer_deleted();`);
    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );
  }
}
