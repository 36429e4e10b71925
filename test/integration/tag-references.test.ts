import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

/** customer_tag and tag_history name tags without foreign keys; triggers keep them honest. */
describe('tag references', () => {
  let t: TestApp;
  let customerId: string;
  let tagId: string;

  beforeAll(async () => {
    t = await createTestApp();
    await t.sql(`insert into tag_category (key, name, kind) values ('refs', 'Refs', 'OTHER')`);
    [{ id: tagId }] = (await t.sql<{ id: string }>(
      `insert into tag (key, name, category_id) select 'referenced', 'Referenced', id
       from tag_category where key = 'refs' returning id::text`,
    )) as [{ id: string }];
    [{ id: customerId }] = (await t.sql<{ id: string }>(
      `insert into customer (external_id, name) values ('refs-1', 'Refs') returning id::text`,
    )) as [{ id: string }];
  });

  afterAll(async () => {
    await t?.close();
  });

  const failure = (work: Promise<unknown>) =>
    work.then(
      () => null,
      (error: Error & { code?: string }) => ({ code: error.code, message: error.message }),
    );

  it('refuses a statement naming an unknown tag, writing none of its rows', async () => {
    const error = await failure(
      t.sql(
        `insert into customer_tag (customer_id, tag_id, source)
         values (?, ?, 'MANUAL'), (?, 999999, 'MANUAL')`,
        [customerId, tagId, customerId],
      ),
    );
    expect(error).toMatchObject({ code: '23503' });
    expect(error!.message).toContain('customer_tag.tag_id: tag 999999 does not exist');
    expect(await t.sql('select 1 from customer_tag where customer_id = ?', [customerId])).toEqual(
      [],
    );

    expect(
      await failure(
        t.sql(
          `insert into tag_history (customer_id, tag_id, action, source, related_tag_id)
           values (?, ?, 'REPLACED', 'MANUAL', 999998)`,
          [customerId, tagId],
        ),
      ),
    ).toMatchObject({ code: '23503', message: expect.stringContaining('related_tag_id') });
    expect(
      await failure(
        t.sql(`update customer_tag set tag_id = 999997 where customer_id = ?`, [customerId]),
      ),
    ).toBeNull(); // no rows: nothing to check
  });

  it('accepts known tags and refuses to delete a tag still in use', async () => {
    await t.sql(
      `with applied as (
         insert into customer_tag (customer_id, tag_id, source) values (?, ?, 'MANUAL') returning *
       )
       insert into tag_history (customer_id, tag_id, action, source)
       select customer_id, tag_id, 'APPLIED', source from applied`,
      [customerId, tagId],
    );
    expect(
      await failure(
        t.sql(`update customer_tag set tag_id = 999997 where customer_id = ?`, [customerId]),
      ),
    ).toMatchObject({ code: '23503' });
    expect(await failure(t.sql('delete from tag where id = ?', [tagId]))).toMatchObject({
      code: '23503',
      message: expect.stringContaining('still referenced'),
    });
    await t.sql('delete from customer_tag where customer_id = ?', [customerId]);
    expect(await failure(t.sql('delete from tag where id = ?', [tagId]))).toMatchObject({
      code: '23503',
    }); // its history still names it
  });
});
