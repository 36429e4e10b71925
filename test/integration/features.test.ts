import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import { FeatureService } from '../../src/modules/feature/feature.service.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { createCustomers } from '../support/fixtures.js';

const AS_OF = new Date('2026-06-30T00:00:00Z');
const daysBefore = (d: number) => new Date(AS_OF.getTime() - d * 86_400_000).toISOString();
const RECORD = `mutation($input: [EventInput!]!) { recordEvents(input: $input) { recorded } }`;

describe('customer features', () => {
  let t: TestApp;
  let ids: Record<string, string>;

  const stored = async () =>
    Object.fromEntries(
      (
        await t.sql<{ customer_id: string; values: Record<string, unknown> }>(
          'select customer_id, values from customer_features order by customer_id',
        )
      ).map((r) => [r.customer_id, r.values]),
    );

  beforeAll(async () => {
    t = await createTestApp();
    ids = await createCustomers(t, [
      { externalId: 'fa' },
      {
        externalId: 'fb',
        birthYear: 1990,
        region: 'East China',
        attributes: { income: 42000, education: 'PhD', enrolled_at: '2026-06-20', broken: 'x' },
      },
      { externalId: 'fc' },
    ]);
    await t.sql(`update customer set created_at = ?`, [daysBefore(100)]);
    await new FeatureService(t.app.orm.em.fork()).configure({
      spendCategories: ['wine', 'meat'],
      profile: ['age', 'region'],
      numericAttributes: ['income'],
      categoricalAttributes: ['education'],
      dateAttributes: ['enrolled_at', 'broken'],
    });
    const purchase = (d: number, amount: number, category: string, channel: string) => ({
      customerExternalId: 'fa',
      type: 'PURCHASE',
      occurredAt: daysBefore(d),
      amount,
      category,
      channel,
    });
    await t.ok(RECORD, {
      input: [
        purchase(10, 100, 'wine', 'STORE'),
        purchase(40, 50, 'meat', 'WEB'),
        purchase(200, 30, 'wine', 'WEB'),
        purchase(400, 20, 'wine', 'STORE'),
        purchase(-2, 999, 'wine', 'STORE'),
        { customerExternalId: 'fa', type: 'PAGE_VIEW', occurredAt: daysBefore(5), channel: 'WEB' },
        {
          customerExternalId: 'fa',
          type: 'EMAIL_OPEN',
          occurredAt: daysBefore(60),
          channel: 'EMAIL',
        },
      ],
    });
  });
  afterAll(() => t?.close());

  it('computes every feature as worked out by hand', async () => {
    const report = await refreshFeatures(t.app.orm, { mode: 'full', asOf: AS_OF });
    expect(report).toMatchObject({ customers: 3, featureSetVersion: 2 });
    const values = await stored();
    const zeros = (names: string[]) => Object.fromEntries(names.map((n) => [n, 0]));
    const engagement = zeros(
      [
        'page_view',
        'download',
        'form_submit',
        'event_registration',
        'event_attendance',
        'email_open',
        'email_click',
        'support_ticket',
        'referral',
      ].flatMap((type) => [`${type}_30d`, `${type}_90d`]),
    );
    expect(values[ids.fa!]).toEqual({
      days_since_last_purchase: 10,
      days_since_last_interaction: 5,
      tenure_days: 100,
      purchases_30d: 1,
      purchases_90d: 2,
      purchases_365d: 3,
      purchases_all: 4,
      spend_30d: 100,
      spend_90d: 150,
      spend_365d: 180,
      spend_all: 200,
      avg_order_value: 50,
      spend_share_wine: 0.75,
      spend_share_meat: 0.25,
      channel_share_web: 0.5,
      channel_share_app: 0,
      channel_share_store: 0.3333,
      channel_share_catalog: 0,
      channel_share_email: 0.1667,
      channel_share_event: 0,
      channel_share_phone: 0,
      channel_share_other: 0,
      ...engagement,
      page_view_30d: 1,
      page_view_90d: 1,
      email_open_90d: 1,
      age: null,
      region: null,
      attr_income: null,
      attr_education: null,
      attr_enrolled_at_days: null,
      attr_broken_days: null,
    });
    expect(values[ids.fb!]).toMatchObject({
      days_since_last_purchase: null,
      days_since_last_interaction: null,
      purchases_all: 0,
      spend_all: 0,
      avg_order_value: null,
      spend_share_wine: null,
      channel_share_web: null,
      age: 36,
      region: 'East China',
      attr_income: 42000,
      attr_education: 'PhD',
      attr_enrolled_at_days: 10,
      attr_broken_days: null,
    });
  });

  it('serves the named values over GraphQL', async () => {
    const data = await t.ok(
      `query($id: ID!) { customer(id: $id) { features { featureSetVersion computedAt values { name value } } } }`,
      { id: ids.fb },
    );
    expect(data.customer.features.featureSetVersion).toBe(2);
    expect(data.customer.features.computedAt).toBe(AS_OF.toISOString());
    expect(data.customer.features.values).toContainEqual({ name: 'attr_education', value: 'PhD' });
    const set = await t.ok(`{ featureSet { version spendCategories features { name kind } } }`);
    expect(set.featureSet.spendCategories).toEqual(['wine', 'meat']);
    expect(set.featureSet.features).toContainEqual({ name: 'attr_education', kind: 'categorical' });
  });

  it('refreshes incrementally only what changed, with the same result as a full refresh', async () => {
    await t.ok(RECORD, {
      input: [
        {
          customerExternalId: 'fb',
          type: 'PURCHASE',
          occurredAt: daysBefore(3),
          amount: 70,
          category: 'meat',
          channel: 'APP',
        },
      ],
    });
    await t.ok(
      `mutation { upsertCustomers(input: [{ externalId: "fc", birthYear: 2000 }]) { updated } }`,
    );
    const incremental = await refreshFeatures(t.app.orm, { mode: 'incremental', asOf: AS_OF });
    expect(incremental.customers).toBe(2);
    const afterIncremental = await stored();
    expect(afterIncremental[ids.fb!]).toMatchObject({
      spend_all: 70,
      spend_share_meat: 1,
      channel_share_app: 1,
    });
    expect(afterIncremental[ids.fc!]).toMatchObject({ age: 26 });

    expect((await refreshFeatures(t.app.orm, { mode: 'incremental', asOf: AS_OF })).customers).toBe(
      0,
    );
    await refreshFeatures(t.app.orm, { mode: 'full', asOf: AS_OF });
    expect(await stored()).toEqual(afterIncremental);
  });

  it('recomputes everything stale after the feature set changes', async () => {
    await new FeatureService(t.app.orm.em.fork()).configure({ spendCategories: ['wine'] });
    const report = await refreshFeatures(t.app.orm, { mode: 'incremental', asOf: AS_OF });
    expect(report).toMatchObject({ customers: 3, featureSetVersion: 3 });
    expect((await stored())[ids.fa!]).not.toHaveProperty('spend_share_meat');
  });

  it('rejects a bad feature set naming the field', async () => {
    const service = new FeatureService(t.app.orm.em.fork());
    await expect(service.configure({ numericAttributes: ['bad name!'] })).rejects.toMatchObject({
      field: 'featureSet.numericAttributes.0',
    });
    await expect(service.configure({ unknownKey: 1 })).rejects.toMatchObject({
      kind: 'invalid_input',
    });
    await expect(
      service.configure({ numericAttributes: ['income'], categoricalAttributes: ['income'] }),
    ).rejects.toMatchObject({ field: 'featureSet' });
  });

  it('says in one line, from the command line, what is wrong with the file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-features-'));
    const broken = path.join(dir, 'broken.json');
    await fs.writeFile(broken, '{ "numericAttributes": [');
    const configure = (file: string) =>
      promisify(execFile)('node', ['bin/tagwise.js', 'features', 'configure', file], {
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' },
      }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
    const missing = await configure(path.join(dir, 'missing.json'));
    expect(missing).toMatchObject({
      code: 1,
      stderr: `${path.join(dir, 'missing.json')}: no such file or directory\n`,
    });
    const invalid = await configure(broken);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(new RegExp(`^${broken} is not valid JSON: .+\n$`));
    await fs.rm(dir, { recursive: true, force: true });
  }, 30_000);
});
