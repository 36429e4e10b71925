import { Migration } from '@mikro-orm/migrations';

export class Migration20261123105605 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "model_version" ("id" bigserial primary key, "version" text not null, "status" text check ("status" in ('CANDIDATE', 'ACTIVE', 'RETIRED')) not null default 'CANDIDATE', "seed" int not null, "params" jsonb not null, "feature_schema" jsonb not null, "training_summary" jsonb not null, "metrics" jsonb not null, "backend" text not null, "artifact_path" text not null, "created_by" text null, "created_at" timestamptz not null default now(), "promoted_at" timestamptz null);`,
    );
    this.addSql(
      `alter table "model_version" add constraint "model_version_version_unique" unique ("version");`,
    );
    this.addSql(
      `create unique index "model_version_one_active" on "model_version" ((true)) where status = 'ACTIVE';`,
    );

    this.addSql(
      `create table "cluster" ("id" bigserial primary key, "model_version_id" bigint not null, "index" int not null, "label" text not null, "size" int not null, "profile" jsonb not null, "tag_id" bigint null);`,
    );
    this.addSql(
      `create index "cluster_model_version_id_index_idx" on "cluster" ("model_version_id", "index");`,
    );

    this.addSql(
      `create table "customer_cluster" ("model_version_id" bigint not null, "customer_id" bigint not null, "cluster_id" bigint not null, "distance" real not null, constraint "customer_cluster_pkey" primary key ("model_version_id", "customer_id"));`,
    );
    this.addSql(
      `create index "customer_cluster_customer_id_idx" on "customer_cluster" ("customer_id");`,
    );

    this.addSql(
      `alter table "cluster" add constraint "cluster_model_version_id_foreign" foreign key ("model_version_id") references "model_version" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "cluster" add constraint "cluster_tag_id_foreign" foreign key ("tag_id") references "tag" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "customer_cluster" add constraint "customer_cluster_model_version_id_foreign" foreign key ("model_version_id") references "model_version" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "customer_cluster" add constraint "customer_cluster_customer_id_foreign" foreign key ("customer_id") references "customer" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "customer_cluster" add constraint "customer_cluster_cluster_id_foreign" foreign key ("cluster_id") references "cluster" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "cluster" drop constraint "cluster_model_version_id_foreign";`);

    this.addSql(
      `alter table "customer_cluster" drop constraint "customer_cluster_model_version_id_foreign";`,
    );

    this.addSql(
      `alter table "customer_cluster" drop constraint "customer_cluster_cluster_id_foreign";`,
    );

    this.addSql(`drop table if exists "model_version" cascade;`);

    this.addSql(`drop table if exists "cluster" cascade;`);

    this.addSql(`drop table if exists "customer_cluster" cascade;`);
  }
}
