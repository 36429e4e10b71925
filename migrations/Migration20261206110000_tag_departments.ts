import { Migration } from '@mikro-orm/migrations';

/**
 * Department visibility: a category or tag may be restricted to departments. Empty means visible to
 * every key; a restriction on a category covers its subcategories and their tags.
 */
export class Migration20261206110000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "tag_category" add column "departments" text[] not null default '{}';`,
    );
    this.addSql(`alter table "tag" add column "departments" text[] not null default '{}';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "tag" drop column "departments";`);
    this.addSql(`alter table "tag_category" drop column "departments";`);
  }
}
