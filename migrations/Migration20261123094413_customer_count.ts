import { Migration } from '@mikro-orm/migrations';

export class Migration20261123094413 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "customer_count_delta" ("id" bigserial primary key, "n" bigint not null);`,
    );
    this.addSql(`insert into "customer_count_delta" (n) select count(*) from "customer";`);
    this.addSql(`create function customer_count_delta() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          insert into customer_count_delta (n) select count(*) from new_rows having count(*) > 0;
        else
          insert into customer_count_delta (n) select -count(*) from old_rows having count(*) > 0;
        end if;
        return null;
      end $$;`);
    this.addSql(`create trigger customer_count_insert after insert on "customer"
      referencing new table as new_rows
      for each statement execute function customer_count_delta();`);
    this.addSql(`create trigger customer_count_delete after delete on "customer"
      referencing old table as old_rows
      for each statement execute function customer_count_delta();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists customer_count_insert on "customer";`);
    this.addSql(`drop trigger if exists customer_count_delete on "customer";`);
    this.addSql(`drop function if exists customer_count_delta();`);
    this.addSql(`drop table if exists "customer_count_delta" cascade;`);
  }
}
