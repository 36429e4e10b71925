import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('serves an empty customer list', async () => {
    const data = await t.ok(`{ customers(first: 5) { totalCount edges { node { id } } } }`);
    expect(data.customers).toEqual({ totalCount: 0, edges: [] });
  });
});
