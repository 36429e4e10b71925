import { Migration } from '@mikro-orm/migrations';

export class Migration20261123110801 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "model_run" ("id" bigserial primary key, "status" text check ("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')) not null default 'QUEUED', "params" jsonb not null, "progress" jsonb null, "model_version_id" bigint null, "error" text null, "created_by" text null, "created_at" timestamptz not null default now(), "finished_at" timestamptz null);`,
    );

    this.addSql(
      `alter table "model_run" add constraint "model_run_model_version_id_foreign" foreign key ("model_version_id") references "model_version" ("id") on update cascade on delete set null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "model_run" cascade;`);
  }
}
