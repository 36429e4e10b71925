import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError, parseId } from '../common/domain.errors.js';
import { bigintArray } from '../common/sql.js';
import { runnerFor } from '../rule/rule.repository.js';
import { applyTriggerRules } from '../rule/rule.service.js';
import type { CompiledCondition } from '../segment/condition/index.js';
import { BuiltinEventType } from './event.entity.js';
import type { EventFilter, EventInput } from './event.input.js';
import { EventRepository, type EventWindow, type NewEvent } from './event.repository.js';

export const MAX_EVENTS = 10_000;
const EVENT_TYPE = /^[A-Z][A-Z0-9_]{0,49}$/;
/** Clock skew allowance: events from the future beyond this are mistakes. */
const FUTURE_TOLERANCE_MS = 24 * 3600 * 1000;

export interface RecordOutcome {
  recorded: number;
  duplicates: number;
  /** Tags applied by trigger rules to the customers of the new events. */
  triggered: number;
}

export function isEventType(type: string): boolean {
  return EVENT_TYPE.test(type);
}

export class EventService {
  constructor(private readonly em: EntityManager) {}

  /** All or nothing, in one transaction; a repeated externalId is skipped and counted. */
  async recordEvents(input: EventInput[]): Promise<RecordOutcome> {
    if (input.length === 0) return { recorded: 0, duplicates: 0, triggered: 0 };
    if (input.length > MAX_EVENTS) {
      throw new InvalidInputError(
        'input',
        `at most ${MAX_EVENTS} events per call (got ${input.length})`,
      );
    }
    const rows = input.map((event, i) => toNewEvent(event, `input[${i}]`));
    const payload = JSON.stringify(rows);
    return this.em.transactional(async (em) => {
      const repository = new EventRepository(em);
      const unknown = await repository.findUnknownCustomers(payload);
      if (unknown.length > 0) {
        const listed = unknown
          .slice(0, 20)
          .map((i) => `input[${i}] (${rows[i]!.customerExternalId ?? rows[i]!.customerId})`)
          .join(', ');
        throw new InvalidInputError(
          `input[${unknown[0]}].customerExternalId`,
          `unknown customer in ${unknown.length} row(s): ${listed}${unknown.length > 20 ? ', …' : ''}`,
          { rows: unknown.slice(0, 1000) },
        );
      }
      const recorded = await repository.insert(payload);
      // Behaviour triggers see the new events and commit or roll back with them.
      const triggers =
        recorded > 0
          ? await applyTriggerRules(em, runnerFor(em), customersOf(rows))
          : { applied: 0 };
      return { recorded, duplicates: rows.length - recorded, triggered: triggers.applied };
    });
  }

  static window(filter: EventFilter | null | undefined): EventWindow {
    const types = filter?.types ?? null;
    for (const [i, type] of (types ?? []).entries()) {
      if (!isEventType(type)) {
        throw new InvalidInputError(
          `filter.types[${i}]`,
          `filter.types[${i}]: "${type}" is not an event type`,
        );
      }
    }
    return { types, from: filter?.from ?? null, to: filter?.to ?? null };
  }
}

/** The customers the events name, by id or external id, as a condition restriction. */
function customersOf(rows: NewEvent[]): CompiledCondition {
  const ids = rows.flatMap((r) => (r.customerId ? [r.customerId] : []));
  const externalIds = rows.flatMap((r) => (r.customerExternalId ? [r.customerExternalId] : []));
  return {
    sql: `(c.id = any(?::bigint[]) or c.external_id in (select jsonb_array_elements_text(?::jsonb)))`,
    params: [bigintArray([...new Set(ids)]), JSON.stringify([...new Set(externalIds)])],
  };
}

function toNewEvent(event: EventInput, at: string): NewEvent {
  const byExternal = event.customerExternalId != null;
  if (byExternal === (event.customerId != null)) {
    throw new InvalidInputError(
      `${at}.customerExternalId`,
      `${at}: give customerExternalId or customerId`,
    );
  }
  if (!isEventType(event.type)) {
    throw new InvalidInputError(
      `${at}.type`,
      `${at}.type: "${event.type}" is neither a built-in type nor an UPPER_SNAKE custom name`,
    );
  }
  if (event.occurredAt.getTime() > Date.now() + FUTURE_TOLERANCE_MS) {
    throw new InvalidInputError(`${at}.occurredAt`, `${at}.occurredAt lies in the future`);
  }
  if (event.amount != null) {
    if (!Number.isFinite(event.amount) || Math.abs(event.amount) >= 1e12) {
      throw new InvalidInputError(`${at}.amount`, `${at}.amount is out of range`);
    }
    if (event.type === BuiltinEventType.PURCHASE && event.amount < 0) {
      throw new InvalidInputError(`${at}.amount`, `${at}.amount: a purchase cannot be negative`);
    }
  }
  return {
    externalId: event.externalId ?? null,
    customerExternalId: event.customerExternalId ?? null,
    customerId: event.customerId == null ? null : parseId(event.customerId, `${at}.customerId`),
    type: event.type,
    occurredAt: event.occurredAt.toISOString(),
    amount: event.amount ?? null,
    currency: event.currency?.toUpperCase() ?? null,
    category: event.category ?? null,
    channel: event.channel ?? null,
    properties: event.properties ?? {},
  };
}
