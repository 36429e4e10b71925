import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/modules/common/domain.errors.js';
import { decodeCursor, encodeCursor, toPage } from '../../../src/modules/common/pagination.js';

describe('cursors', () => {
  it('round-trip their sort key', () => {
    const cursor = encodeCursor(['2026-01-02 03:04:05.123456+00', 42]);
    expect(decodeCursor(cursor, 2)).toEqual(['2026-01-02 03:04:05.123456+00', 42]);
  });

  it.each(['', 'not base64!', encodeCursor([1]), Buffer.from('{"a":1}').toString('base64url')])(
    'reject %j as bad input on the after field',
    (cursor) => {
      expect(() => decodeCursor(cursor, 2)).toThrow(InvalidInputError);
      try {
        decodeCursor(cursor, 2);
      } catch (error) {
        expect((error as InvalidInputError).field).toBe('after');
      }
    },
  );

  it('turn first+1 rows into a page that knows there is more', async () => {
    const page = toPage(
      [1, 2, 3],
      2,
      (n) => `c${n}`,
      async () => 3,
    );
    expect(page.nodes).toEqual([1, 2]);
    expect(page.cursors).toEqual(['c1', 'c2']);
    expect(page.hasNextPage).toBe(true);
    expect(await page.totalCount()).toBe(3);
    expect(toPage([1], 2, String, async () => 1).hasNextPage).toBe(false);
  });
});
