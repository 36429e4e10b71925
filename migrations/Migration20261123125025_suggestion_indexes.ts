import { Migration } from '@mikro-orm/migrations';

export class Migration20261123125025 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "tag_suggestion" drop constraint "tag_suggestion_cluster_id_foreign";`,
    );
    this.addSql(
      `alter table "tag_suggestion" drop constraint "tag_suggestion_model_version_id_foreign";`,
    );

    this.addSql(`drop index "tag_suggestion_customer_idx";`);
    this.addSql(`drop index "tag_suggestion_queue_confidence_idx";`);
    this.addSql(`drop index "tag_suggestion_queue_id_idx";`);
    this.addSql(`drop index "tag_suggestion_queue_margin_idx";`);
    this.addSql(`drop index "tag_suggestion_queue_value_idx";`);
    this.addSql(`drop index "tag_suggestion_tag_status_idx";`);

    this.addSql(
      `create index "tag_suggestion_rejected_idx" on "tag_suggestion" ("customer_id", "tag_id", "reviewed_at") where status in ('REJECTED', 'CORRECTED');`,
    );
    this.addSql(
      `create index "tag_suggestion_pending_id_idx" on "tag_suggestion" ("id") where status = 'PENDING';`,
    );
    this.addSql(
      `create index "tag_suggestion_pending_value_idx" on "tag_suggestion" ("customer_value", "id") where status = 'PENDING';`,
    );
    this.addSql(
      `create index "tag_suggestion_pending_confidence_idx" on "tag_suggestion" ("confidence", "id") where status = 'PENDING';`,
    );
    this.addSql(
      `create index "tag_suggestion_pending_margin_idx" on "tag_suggestion" ("margin", "id") where status = 'PENDING';`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "tag_suggestion_rejected_idx";`);
    this.addSql(`drop index "tag_suggestion_pending_id_idx";`);
    this.addSql(`drop index "tag_suggestion_pending_value_idx";`);
    this.addSql(`drop index "tag_suggestion_pending_confidence_idx";`);
    this.addSql(`drop index "tag_suggestion_pending_margin_idx";`);

    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_cluster_id_foreign" foreign key ("cluster_id") references "cluster" ("id") on update cascade on delete set null;`,
    );
    this.addSql(
      `alter table "tag_suggestion" add constraint "tag_suggestion_model_version_id_foreign" foreign key ("model_version_id") references "model_version" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `create index "tag_suggestion_customer_idx" on "tag_suggestion" ("customer_id", "tag_id");`,
    );
    this.addSql(
      `create index "tag_suggestion_queue_confidence_idx" on "tag_suggestion" ("status", "confidence", "id");`,
    );
    this.addSql(`create index "tag_suggestion_queue_id_idx" on "tag_suggestion" ("status", "id");`);
    this.addSql(
      `create index "tag_suggestion_queue_margin_idx" on "tag_suggestion" ("status", "margin", "id");`,
    );
    this.addSql(
      `create index "tag_suggestion_queue_value_idx" on "tag_suggestion" ("status", "customer_value", "id");`,
    );
    this.addSql(
      `create index "tag_suggestion_tag_status_idx" on "tag_suggestion" ("tag_id", "status", "margin", "id");`,
    );
  }
}
