import { Migration } from '@mikro-orm/migrations';

/**
 * The taxonomy of traits: a row per attribute key someone described, with the flag that makes it
 * personal (masked for keys without the PII permission). Keys customers already carry need no
 * row; `traits` lists them all.
 */
export class Migration20261206130000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "trait" ("key" text not null, "personal" boolean not null default false, "updated_at" timestamptz not null default now(), "updated_by" text null, constraint "trait_pkey" primary key ("key"));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "trait" cascade;`);
  }
}
