import { Migration } from '@mikro-orm/migrations';

/**
 * Key lifecycle: permissions and departments set at creation, an optional expiry, the last time a
 * key was used, and where it came from (ENVIRONMENT: seeded from ADMIN_API_KEY, retired when that
 * setting changes).
 *
 * API processes cache keys for a few seconds; any change to api_key notifies them
 * (`tagwise_api_keys`) so that a revoked key is refused at once in every process, whoever revoked
 * it — the CLI, GraphQL or SQL by hand.
 */
export class Migration20261206100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "api_key" add column "permissions" text[] not null default '{}', add column "departments" text[] not null default '{}', add column "expires_at" timestamptz null, add column "last_used_at" timestamptz null, add column "source" text check ("source" in ('CREATED', 'ENVIRONMENT')) not null default 'CREATED';`,
    );
    this.addSql(`update api_key set source = 'ENVIRONMENT' where name = 'ADMIN_API_KEY';`);
    this.addSql(`create function notify_api_key_change() returns trigger language plpgsql as $$
      begin
        perform pg_notify('tagwise_api_keys', '');
        return null;
      end $$;`);
    // last_used_at alone changes nothing a cache holds; skipping it keeps busy keys quiet.
    this.addSql(`create trigger api_key_changed after insert or delete or update of
      name, role, key_hash, revoked_at, permissions, departments, expires_at on api_key
      for each statement execute function notify_api_key_change();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists api_key_changed on api_key;`);
    this.addSql(`drop function if exists notify_api_key_change();`);
    this.addSql(
      `alter table "api_key" drop column "permissions", drop column "departments", drop column "expires_at", drop column "last_used_at", drop column "source";`,
    );
  }
}
