import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const CREATE = `mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) { id key name text definition size }
}`;

describe('segments', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let ids: Record<string, string>;

  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    ids = await createCustomers(
      t,
      Array.from({ length: 30 }, (_, i) => ({
        externalId: `s${String(i).padStart(2, '0')}`,
        name: `S ${i}`,
        region: i % 2 === 0 ? 'South China' : 'East China',
        companySize: i * 50,
      })),
    );
    // Every third customer is high value.
    await applyTags(
      t,
      Object.entries(ids)
        .filter(([, id], i) => i % 3 === 0 && id)
        .map(([, id]) => id),
      [tax.tags['high-value']!],
    );
  });
  afterAll(() => t?.close());

  const expected = () =>
    Object.keys(ids)
      .map((_, i) => i)
      .filter((i) => i % 2 === 0 && i % 3 === 0 && i * 50 >= 500).length;

  it('creates a segment from text and from a tree, with size and canonical text', async () => {
    const fromText = await t.ok(CREATE, {
      input: {
        key: 'South Big',
        name: 'South, big, high value',
        text: 'region = "South China" AND company_size >= 500 AND tag:high-value',
      },
    });
    expect(fromText.createSegment).toMatchObject({
      key: 'south-big',
      text: 'region = "South China" AND company_size >= 500 AND tag:high-value',
      size: expected(),
    });
    const fromTree = await t.ok(
      CREATE,
      {
        input: {
          key: 'south',
          name: 'South',
          definition: { field: { name: 'REGION', op: 'EQ', value: 'South China' } },
        },
      },
      Role.DATA_SCIENTIST,
    );
    expect(fromTree.createSegment.size).toBe(15);
    expect(fromTree.createSegment.definition).toEqual({
      field: { name: 'region', op: 'EQ', value: 'South China' },
    });
  });

  it('validates against the taxonomy with field paths and writes nothing', async () => {
    const before = await t.sql('select count(*)::int as n from segment');
    const bad = await t.gql(CREATE, {
      input: {
        key: 'bad',
        name: 'Bad',
        definition: {
          and: [
            { field: { name: 'REGION', op: 'EQ', value: 'x' } },
            { tag: { has: 'no-such-tag' } },
          ],
        },
      },
    });
    expect(errorOf(bad)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.definition.and[1].tag.has',
    });
    const feature = await t.gql(CREATE, {
      input: { key: 'bad2', name: 'Bad', text: 'tag:high-value AND nope_30d > 3' },
    });
    expect(errorOf(feature)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.text.and[1].feature.name',
    });
    const syntax = await t.gql(CREATE, {
      input: { key: 'bad3', name: 'Bad', text: 'tag:high-value AND (' },
    });
    expect(errorOf(syntax)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.text' });
    expect(errorOf(syntax).message).toMatch(/1:\d+/);
    const both = await t.gql(CREATE, {
      input: { key: 'bad4', name: 'Bad', text: 'tag:high-value', definition: { segment: 'x' } },
    });
    expect(errorOf(both).code).toBe('BAD_USER_INPUT');
    const denied = await t.gql(
      CREATE,
      { input: { key: 'v', name: 'V', text: 'tag:high-value' } },
      { as: Role.VIEWER },
    );
    expect(errorOf(denied).code).toBe('FORBIDDEN');
    expect(await t.sql('select count(*)::int as n from segment')).toEqual(before);
  });

  it('refuses cycles and deletes only segments nothing depends on', async () => {
    const outer = await t.ok(CREATE, {
      input: { key: 'outer', name: 'Outer', text: 'segment:south AND tag:high-value' },
    });
    expect(outer.createSegment.size).toBe(5);
    const [south] = await t.sql<{ id: string }>(`select id from segment where key = 'south'`);
    const cycle = await t.gql(
      `mutation($input: UpdateSegmentInput!) { updateSegment(input: $input) { id } }`,
      { input: { id: south!.id, text: 'segment:outer' } },
    );
    expect(errorOf(cycle)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.text.segment' });
    expect(errorOf(cycle).message).toMatch(/cycle/);

    const refused = await t.gql(`mutation($id: ID!) { deleteSegment(id: $id) { id } }`, {
      id: south!.id,
    });
    expect(errorOf(refused).code).toBe('CONFLICT');
    expect(errorOf(refused).message).toContain('segment outer');
    expect(refused.errors![0]!.extensions!.dependants).toEqual({ segments: ['outer'], rules: [] });

    await t.ok(`mutation($id: ID!) { deleteSegment(id: $id) { key } }`, {
      id: outer.createSegment.id,
    });
    const deleted = await t.ok(`mutation($id: ID!) { deleteSegment(id: $id) { key } }`, {
      id: south!.id,
    });
    expect(deleted.deleteSegment.key).toBe('south');
    const missing = await t.gql(`query($id: ID!) { segment(id: $id) { id } }`, { id: south!.id });
    expect(errorOf(missing).code).toBe('NOT_FOUND');
  });

  it('updates name and definition', async () => {
    const created = await t.ok(CREATE, {
      input: { key: 'east', name: 'East', text: 'region = "East China"' },
    });
    const updated = await t.ok(
      `mutation($input: UpdateSegmentInput!) { updateSegment(input: $input) { key name text size } }`,
      {
        input: {
          id: created.createSegment.id,
          name: 'East big',
          text: 'region = "East China" AND company_size > 1000',
        },
      },
    );
    expect(updated.updateSegment).toMatchObject({
      key: 'east',
      name: 'East big',
      size: [...Array(30).keys()].filter((i) => i % 2 === 1 && i * 50 > 1000).length,
    });
  });

  it('pages members by keyset cursor', async () => {
    const created = await t.ok(CREATE, {
      input: { key: 'everyone', name: 'Everyone', text: 'company_size >= 0' },
    });
    const query = `query($id: ID!, $after: String) { segment(id: $id) { members(first: 7, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { externalId } } } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const data: any = await t.ok(query, { id: created.createSegment.id, after });
      const members = data.segment.members;
      expect(members.totalCount).toBe(30);
      seen.push(...members.edges.map((e: any) => e.node.externalId));
      if (!members.pageInfo.hasNextPage) break;
      after = members.pageInfo.endCursor;
    }
    expect(seen).toEqual(Object.keys(ids).sort());
    const list = await t.ok(`{ segments(first: 2) { totalCount edges { node { key } } } }`);
    expect(list.segments.totalCount).toBeGreaterThanOrEqual(3);
    expect(list.segments.edges).toHaveLength(2);
  });

  it('previews without saving', async () => {
    const before = await t.sql('select count(*)::int as n from segment');
    const data = await t.ok(
      `query($definition: SegmentDefinitionInput!) { previewSegment(definition: $definition) { count text sample { externalId } } }`,
      { definition: { definition: { tag: { has: 'high-value' } } } },
      Role.VIEWER,
    );
    expect(data.previewSegment.count).toBe(10);
    expect(data.previewSegment.text).toBe('tag:high-value');
    expect(data.previewSegment.sample).toHaveLength(10);
    expect(await t.sql('select count(*)::int as n from segment')).toEqual(before);
    const bad = await t.gql(
      `query($definition: SegmentDefinitionInput!) { previewSegment(definition: $definition) { count } }`,
      { definition: { text: 'tag:high-value AND' } },
      { as: Role.VIEWER },
    );
    expect(errorOf(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'definition.text' });
  });

  it('lists customer.segments with a constant number of statements', async () => {
    for (let i = 0; i < 50; i++) {
      await t.ok(CREATE, {
        input: {
          key: `many-${i}`,
          name: `Many ${i}`,
          text: i % 2 ? `company_size >= ${i * 30}` : `tag:high-value OR region = "East China"`,
        },
      });
    }
    const query = `query($first: Int) { customers(first: $first) { edges { node { externalId segments { key } } } } }`;
    const small = await t.countStatements(() => t.ok(query, { first: 5 }));
    let page: any;
    const large = await t.countStatements(async () => {
      page = await t.ok(query, { first: 50 });
    });
    expect(large.count).toBe(small.count);
    expect(large.count).toBeLessThanOrEqual(6);
    // s03: i=3, East China, size 150, high value.
    const s03 = page.customers.edges.find((e: any) => e.node.externalId === 's03').node;
    const keys = s03.segments.map((s: any) => s.key);
    expect(keys).toContain('many-0');
    expect(keys).toContain('many-5');
    expect(keys).not.toContain('many-7');
  });

  it('exports members as CSV from the CLI', async () => {
    await t.ok(CREATE, {
      input: { key: 'csv-export', name: 'CSV', text: 'region = "South China"' },
    });
    const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-seg-')), 'south.csv');
    await promisify(execFile)(
      'node',
      ['bin/tagwise.js', 'segments', 'export', 'csv-export', '--out', out, '--show-personal'],
      { env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' } },
    );
    const lines = (await fs.readFile(out, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe(
      'id,externalId,name,email,phone,region,city,industry,companySize,lifecycleStage,createdAt',
    );
    expect(lines).toHaveLength(16);
    expect(lines.slice(1).every((l) => l.includes(',South China,'))).toBe(true);
    expect(lines[1]).toContain(`${ids.s00},s00,S 0,`);
    // Without --show-personal, names, emails and phones are masked as for a key without PII.
    const { stdout } = await promisify(execFile)(
      'node',
      ['bin/tagwise.js', 'segments', 'export', 'csv-export'],
      { env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' } },
    );
    expect(stdout.split('\n')[1]).toContain(`${ids.s00},s00,S*,`);
  }, 30_000);

  it('says in one line that a segment to export does not exist, and exits 1', async () => {
    const failed = await promisify(execFile)(
      'node',
      ['bin/tagwise.js', 'segments', 'export', 'nope'],
      {
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' },
      },
    ).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr.trim().split('\n')).toEqual(['Segment nope does not exist']);
    expect(failed.stderr).not.toMatch(/^\s+at /m);
  }, 30_000);

  it('exports to a reader that stops early (`| head`) without failing', async () => {
    const child = spawn('node', ['bin/tagwise.js', 'segments', 'export', 'csv-export'], {
      env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Nobody reads: the command's first write meets a closed pipe (EPIPE).
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = (await once(child, 'close')) as [number];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 30_000);
});
