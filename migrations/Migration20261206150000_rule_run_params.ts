import { Migration } from '@mikro-orm/migrations';

/** What a rule run was asked to run (`ruleIds`); an empty object is every enabled rule. */
export class Migration20261206150000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "rule_run" add column "params" jsonb not null default '{}';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "rule_run" drop column "params";`);
  }
}
