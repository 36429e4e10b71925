import { Migration } from '@mikro-orm/migrations';

/**
 * The audit log (issue 14, item 4): who changed what, when, through GraphQL or the CLI.
 *
 * Append-only is enforced here, not only by the code: the API's database role may write it, so
 * triggers refuse UPDATE and DELETE (row level) and TRUNCATE (statement level) with a message that
 * says why. Dropping the table or the triggers needs its owner, which is the point: rewriting
 * history takes a migration, in review, not a stray statement.
 *
 * actor_key_id has no foreign key: an entry must outlive anything it names, and a cascade from
 * api_key could delete history (keys are never deleted, but the log should not depend on that).
 */
export class Migration20261206120000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "audit_log" ("id" bigserial primary key, "at" timestamptz not null default now(), "actor_key_id" bigint null, "actor_name" text not null, "actor_kind" text check ("actor_kind" in ('API_KEY', 'CLI', 'SYSTEM')) not null, "operation" text not null, "target_type" text null, "target_ids" text[] not null default '{}', "change" jsonb not null default '{}');`,
    );
    // Filters go newest first by id: each filter column leads an index ending in id.
    this.addSql(`create index "audit_log_target_ids_idx" on "audit_log" using gin ("target_ids");`);
    this.addSql(`create index "audit_log_at_idx" on "audit_log" ("at");`);
    this.addSql(
      `create index "audit_log_target_type_id_idx" on "audit_log" ("target_type", "id");`,
    );
    this.addSql(`create index "audit_log_operation_id_idx" on "audit_log" ("operation", "id");`);
    this.addSql(
      `create index "audit_log_actor_key_id_id_idx" on "audit_log" ("actor_key_id", "id");`,
    );
    this.addSql(`create function refuse_audit_log_change() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_log is append-only: % is not allowed', tg_op
          using errcode = 'insufficient_privilege',
                hint = 'Entries are never changed or removed; append a correcting entry instead.';
      end $$;`);
    this.addSql(`create trigger audit_log_append_only before update or delete on audit_log
      for each row execute function refuse_audit_log_change();`);
    this.addSql(`create trigger audit_log_no_truncate before truncate on audit_log
      for each statement execute function refuse_audit_log_change();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "audit_log" cascade;`);
    this.addSql(`drop function if exists refuse_audit_log_change();`);
  }
}
