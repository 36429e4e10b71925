import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** Small durable facts about this installation, e.g. that the demo data was generated. */
@Entity({ tableName: 'app_state' })
export class AppState {
  @PrimaryKey({ type: 'text' })
  key: string;

  @Property({ type: 'jsonb' })
  value: unknown;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  updatedAt: Date = new Date();

  constructor(key: string, value: unknown) {
    this.key = key;
    this.value = value;
  }
}
