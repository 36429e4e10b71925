import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { groupBy } from '../common/collections.js';
import {
  decodeCursor,
  encodeCursor,
  toPage,
  type Page,
  type PageRequest,
} from '../common/pagination.js';
import type { EventFilter } from './event.input.js';
import { EventRepository, type EventRecord, type EventWindow } from './event.repository.js';
import { EventService } from './event.service.js';

interface EventsKey {
  customerId: string;
  window: EventWindow;
  first: number;
  after: { occurredAt: string; id: string } | null;
}

const shapeOf = (k: EventsKey) => JSON.stringify([k.window, k.first, k.after]);

export function createEventLoaders(em: EntityManager) {
  const repository = new EventRepository(em);
  return {
    /** One statement per distinct page shape (filter, size, cursor), however many customers ask. */
    eventsByCustomerId: new DataLoader<EventsKey, (EventRecord & { cursorKey: string })[], string>(
      async (keys) => {
        const results = new Map<string, (EventRecord & { cursorKey: string })[]>();
        for (const group of groupBy(keys, shapeOf).values()) {
          const { window, first, after } = group[0]!;
          const rows = await repository.findPages(
            group.map((k) => k.customerId),
            window,
            first,
            after,
          );
          const byCustomer = groupBy(rows, (r) => r.customerId);
          for (const key of group)
            results.set(`${key.customerId}:${shapeOf(key)}`, byCustomer.get(key.customerId) ?? []);
        }
        return keys.map((k) => results.get(`${k.customerId}:${shapeOf(k)}`) ?? []);
      },
      { cacheKeyFn: (k) => `${k.customerId}:${shapeOf(k)}` },
    ),
  };
}

export async function loadEventsPage(
  loaders: ReturnType<typeof createEventLoaders>,
  em: EntityManager,
  customerId: string,
  filter: EventFilter | null | undefined,
  page: PageRequest,
): Promise<Page<EventRecord>> {
  const window = EventService.window(filter);
  const after = page.after ? decodeCursor(page.after, 2) : null;
  const rows = await loaders.eventsByCustomerId.load({
    customerId,
    window,
    first: page.first,
    after: after ? { occurredAt: String(after[0]), id: String(after[1]) } : null,
  });
  return toPage(
    rows,
    page.first,
    (r) => encodeCursor([r.cursorKey, Number(r.id)]),
    () => new EventRepository(em).count(customerId, window),
  );
}
