import { Migration } from '@mikro-orm/migrations';

export class Migration20261206140000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "model_run" drop constraint if exists "model_run_status_check";`);

    this.addSql(`alter table "rule_run" drop constraint if exists "rule_run_status_check";`);

    this.addSql(
      `alter table "suggestion_run" drop constraint if exists "suggestion_run_status_check";`,
    );

    this.addSql(
      `alter table "model_run" add column "attempt" int not null default 0, add column "worker" text null, add column "started_at" timestamptz null, add column "heartbeat_at" timestamptz null, add column "cancel_requested_at" timestamptz null, add column "artifact_path" text null;`,
    );
    this.addSql(
      `alter table "model_run" add constraint "model_run_status_check" check("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'));`,
    );

    this.addSql(
      `alter table "rule_run" add column "attempt" int not null default 0, add column "worker" text null, add column "started_at" timestamptz null, add column "heartbeat_at" timestamptz null, add column "cancel_requested_at" timestamptz null;`,
    );
    this.addSql(
      `alter table "rule_run" add constraint "rule_run_status_check" check("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'));`,
    );

    this.addSql(
      `alter table "suggestion_run" add column "attempt" int not null default 0, add column "worker" text null, add column "started_at" timestamptz null, add column "heartbeat_at" timestamptz null, add column "cancel_requested_at" timestamptz null;`,
    );
    this.addSql(
      `alter table "suggestion_run" add constraint "suggestion_run_status_check" check("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "model_run" drop constraint if exists "model_run_status_check";`);

    this.addSql(`alter table "rule_run" drop constraint if exists "rule_run_status_check";`);

    this.addSql(
      `alter table "suggestion_run" drop constraint if exists "suggestion_run_status_check";`,
    );

    this.addSql(
      `alter table "model_run" drop column "attempt", drop column "worker", drop column "started_at", drop column "heartbeat_at", drop column "cancel_requested_at", drop column "artifact_path";`,
    );

    this.addSql(
      `alter table "model_run" add constraint "model_run_status_check" check("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'));`,
    );

    this.addSql(
      `alter table "rule_run" drop column "attempt", drop column "worker", drop column "started_at", drop column "heartbeat_at", drop column "cancel_requested_at";`,
    );

    this.addSql(
      `alter table "rule_run" add constraint "rule_run_status_check" check("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'));`,
    );

    this.addSql(
      `alter table "suggestion_run" drop column "attempt", drop column "worker", drop column "started_at", drop column "heartbeat_at", drop column "cancel_requested_at";`,
    );

    this.addSql(
      `alter table "suggestion_run" add constraint "suggestion_run_status_check" check("status" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'));`,
    );
  }
}
