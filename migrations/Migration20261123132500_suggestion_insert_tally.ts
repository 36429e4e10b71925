import { Migration } from '@mikro-orm/migrations';

/**
 * Only scoring runs insert suggestions, and they now write the tallies themselves from their
 * insert's RETURNING: the statement trigger's transition table held every new row, explanation
 * included — a million wide rows spilled to disk per run.
 */
export class Migration20261123132500 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`drop trigger if exists suggestion_tally_insert on "tag_suggestion";`);
  }

  override async down(): Promise<void> {
    this.addSql(`create trigger suggestion_tally_insert after insert on "tag_suggestion"
      referencing new table as new_rows
      for each statement execute function suggestion_tally();`);
  }
}
