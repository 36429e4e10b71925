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
      { externalId: 'fa', attributes: { broken: '2026-06-01' } },
      {
        externalId: 'fb',
        birthYear: 1990,
        region: 'East China',
        attributes: {
          income: 42000,
          education: 'PhD',
          enrolled_at: '2026-06-20',
          broken: 'x',
          vip: true,
        },
      },
      { externalId: 'fc' },
      { externalId: 'fd' },
    ]);
    await t.sql(`update customer set created_at = ?`, [daysBefore(100)]);
    // Signed up long before this CRM knew them: tenure counts from then.
    await t.sql(`update customer set first_seen_at = ? where external_id = 'fd'`, [
      daysBefore(400),
    ]);
    await new FeatureService(t.app.orm.em.fork()).configure({
      spendCategories: ['wine', 'meat'],
      engagementCategories: ['wine', 'meat'],
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
    const engaged = (type: string, d: number, category: string | null) => ({
      customerExternalId: 'fd',
      type,
      occurredAt: daysBefore(d),
      category,
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
        engaged('PAGE_VIEW', 20, 'wine'),
        engaged('DOWNLOAD', 60, 'wine'),
        engaged('EVENT_ATTENDANCE', 500, 'wine'),
        engaged('EMAIL_CLICK', 100, 'meat'),
        // A category with no features of its own still counts towards the whole.
        engaged('PAGE_VIEW', 15, 'fish'),
        // Not engagement with a category: no category, another type, a purchase, the future.
        engaged('PAGE_VIEW', 5, null),
        engaged('EMAIL_OPEN', 10, 'wine'),
        engaged('EVENT_REGISTRATION', 10, 'wine'),
        { ...purchase(30, 80, 'meat', 'STORE'), customerExternalId: 'fd' },
        engaged('PAGE_VIEW', -2, 'meat'),
      ],
    });
  });
  afterAll(() => t?.close());

  it('computes every feature as worked out by hand', async () => {
    const report = await refreshFeatures(t.app.orm, { mode: 'full', asOf: AS_OF });
    expect(report).toMatchObject({ customers: 4, featureSetVersion: 2 });
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
      engagement_wine_30d: 0,
      engagement_wine_90d: 0,
      engagement_wine_365d: 0,
      engagement_share_wine: null,
      engagement_meat_30d: 0,
      engagement_meat_90d: 0,
      engagement_meat_365d: 0,
      engagement_share_meat: null,
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
      attr_broken_days: 29,
    });
    // Wine: 20, 60 and 500 days ago; meat: 100 days ago; fish: 15 days ago (5 in all).
    expect(values[ids.fd!]).toMatchObject({
      tenure_days: 400,
      engagement_wine_30d: 1,
      engagement_wine_90d: 2,
      engagement_wine_365d: 2,
      engagement_share_wine: 0.6,
      engagement_meat_30d: 0,
      engagement_meat_90d: 0,
      engagement_meat_365d: 1,
      engagement_share_meat: 0.2,
      spend_share_meat: 1,
      page_view_30d: 3,
      download_90d: 1,
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
    const set = await t.ok(
      `{ featureSet { version spendCategories engagementCategories features { name kind } } }`,
    );
    expect(set.featureSet.spendCategories).toEqual(['wine', 'meat']);
    expect(set.featureSet.engagementCategories).toEqual(['wine', 'meat']);
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
    expect(report).toMatchObject({ customers: 4, featureSetVersion: 3 });
    expect((await stored())[ids.fa!]).not.toHaveProperty('spend_share_meat');
  });

  it('fixes open engagement categories to the most engaged-with at the next full refresh', async () => {
    const report = await refreshFeatures(t.app.orm, { mode: 'full', asOf: AS_OF });
    expect(report.featureSetVersion).toBe(4);
    const { set } = await new FeatureService(t.app.orm.em.fork()).describe();
    // Wine 3, meat 2 (one of them in the future of AS_OF, as for spend categories), fish 1.
    expect(set).toMatchObject({
      spendCategories: ['wine'],
      engagementCategories: ['wine', 'meat', 'fish'],
    });
    expect((await stored())[ids.fd!]).toMatchObject({
      engagement_share_wine: 0.6,
      engagement_share_fish: 0.2,
      engagement_fish_30d: 1,
    });
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

  it('refuses an attribute no customer has, or whose values do not fit its kind, saving nothing', async () => {
    const service = new FeatureService(t.app.orm.em.fork());
    const before = await service.describe();
    const refusal = (config: Record<string, unknown>) =>
      service.configure(config).then(
        () => null,
        (error: { field: string; message: string }) => ({
          field: error.field,
          message: error.message,
        }),
      );
    expect(await refusal({ numericAttributes: ['income', 'vip'] })).toEqual({
      field: 'featureSet.numericAttributes.1',
      message:
        'featureSet.numericAttributes.1: attribute "vip" holds booleans (true/false), not numbers',
    });
    expect(await refusal({ categoricalAttributes: ['education', 'loyalty'] })).toEqual({
      field: 'featureSet.categoricalAttributes.1',
      message: 'featureSet.categoricalAttributes.1: no customer has attribute "loyalty"',
    });
    expect(await refusal({ dateAttributes: ['education'] })).toEqual({
      field: 'featureSet.dateAttributes.0',
      message:
        'featureSet.dateAttributes.0: attribute "education" holds text that is not a date, not dates',
    });
    expect(await refusal({ numericAttributes: ['education'] })).toMatchObject({
      message: expect.stringMatching(/"education" holds text, not numbers$/),
    });
    expect(await new FeatureService(t.app.orm.em.fork()).describe()).toEqual(before);
    // A boolean is a fine category, and one unreadable date among readable ones a missing value.
    expect(
      await refusal({ categoricalAttributes: ['vip'], dateAttributes: ['enrolled_at', 'broken'] }),
    ).toBeNull();
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
    const vip = path.join(dir, 'vip.json');
    await fs.writeFile(vip, JSON.stringify({ numericAttributes: ['vip'] }));
    expect(await configure(vip)).toMatchObject({
      code: 1,
      stderr:
        'featureSet.numericAttributes.0: attribute "vip" holds booleans (true/false), not numbers\n',
    });
    await fs.rm(dir, { recursive: true, force: true });
  }, 30_000);
});
