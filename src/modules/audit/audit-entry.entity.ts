import { ArrayType, BigIntType, Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/core';

/** Who wrote: a request with an API key, a person at the command line, or the server itself. */
export enum ActorKind {
  API_KEY = 'API_KEY',
  CLI = 'CLI',
  SYSTEM = 'SYSTEM',
}

/**
 * One line of the audit log. Append-only: triggers (Migration20261206120000_audit_log) refuse
 * UPDATE, DELETE and TRUNCATE, so the entity is only ever inserted (AuditRepository.append) and
 * read. `change` is compact by contract: the changed fields before and after, or counts and a
 * bounded sample of ids for bulk work; never secrets, never customers' personal values.
 */
@Entity({ tableName: 'audit_log' })
@Index({ name: 'audit_log_actor_key_id_id_idx', properties: ['actorKeyId', 'id'] })
@Index({ name: 'audit_log_operation_id_idx', properties: ['operation', 'id'] })
@Index({ name: 'audit_log_target_type_id_idx', properties: ['targetType', 'id'] })
@Index({ name: 'audit_log_at_idx', properties: ['at'] })
@Index({
  name: 'audit_log_target_ids_idx',
  expression: 'create index "audit_log_target_ids_idx" on "audit_log" using gin ("target_ids")',
})
export class AuditEntry {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  at: Date = new Date();

  /**
   * No foreign key: the log outlives anything it names, and keys are never deleted anyway. Read
   * as text like every id (a plain 'bigint' property hydrates as a JS BigInt, which GraphQL's ID
   * cannot serialise).
   */
  @Property({ type: new BigIntType('string'), columnType: 'bigint', nullable: true })
  actorKeyId: string | null = null;

  @Property({ type: 'text' })
  actorName: string;

  @Enum({ items: () => ActorKind, type: 'text' })
  actorKind: ActorKind;

  /** The mutation's name (`updateTag`), or a CLI command (`cli:import customers`). */
  @Property({ type: 'text' })
  operation: string;

  @Property({ type: 'text', nullable: true })
  targetType: string | null = null;

  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  targetIds: string[] = [];

  @Property({ type: 'jsonb', default: '{}' })
  change: Record<string, unknown> = {};

  constructor(actorName: string, actorKind: ActorKind, operation: string) {
    this.actorName = actorName;
    this.actorKind = actorKind;
    this.operation = operation;
  }
}
