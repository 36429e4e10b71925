import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';
import { seedDemoOnFirstStart } from '../../src/jobs/demo-setup.job.js';
import { trainModels } from '../../src/jobs/train.job.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { ModelReportService } from '../../src/modules/model-registry/model-report.service.js';
import { TaxonomyVisibility } from '../../src/modules/taxonomy/visibility.js';
import { createTestApp, type TestApp } from '../support/app.js';

const VERSION_FIELDS = `id version reportUrl tagEvaluations {
  tag mode confident threshold precision estimatedPrecision recall f1 rocAuc prAuc
  positives negatives unlabelled curve { recall } }`;

/** The HTML of one tag's article in the metrics section. */
function articleOf(html: string, tag: string): string {
  const start = html.indexOf(
    `<article class="tag" id="tag-`,
    html.indexOf(`data-tag="${tag}"`) - 60,
  );
  const at = html.indexOf(`data-tag="${tag}"`);
  expect(at, `an article for ${tag}`).toBeGreaterThan(0);
  return html.slice(start, html.indexOf('</article>', at));
}

/** GET on the test server without fetch's URL normalisation (a path is sent as written). */
function get(base: string, pathname: string, headers: Record<string, string> = {}) {
  const url = new URL(base);
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: pathname, headers },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
}

describe('training report', () => {
  let t: TestApp;
  let dataDir: string;
  let base: string;
  let first: { id: string; version: string; reportUrl: string | null; tagEvaluations: any[] };
  let reportFile: string;
  let html: string;
  // Under a dot folder, as models are under TAGWISE_DATA_DIR (.data): served all the same.
  const modelsDir = () => path.join(dataDir, '.data', 'models');

  beforeAll(async () => {
    t = await createTestApp();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-report-'));
    const config = loadConfig({
      TAGWISE_DATA_DIR: dataDir,
      TAGWISE_DEMO_CUSTOMERS: '400',
      TAGWISE_MODELS_DIR: modelsDir(),
    });
    // The demo's first start trains and promotes the model a new user meets first.
    await seedDemoOnFirstStart(t.app.orm, config, createLogger('silent'));
    first = (await t.ok(`{ activeModelVersion { ${VERSION_FIELDS} } }`)).activeModelVersion;
    reportFile = path.join(modelsDir(), first.version, 'report.html');
    html = await fs.readFile(reportFile, 'utf8');
    base = await t.serve();
  }, 240_000);
  afterAll(async () => {
    await t?.close();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('is written beside the manifest of the demo’s first model, with every section', async () => {
    const manifest = JSON.parse(
      await fs.readFile(path.join(path.dirname(reportFile), 'manifest.json'), 'utf8'),
    );
    expect(manifest.files).toContain('report.html');
    for (const section of ['data', 'labels', 'metrics', 'thresholds', 'segments', 'comparison']) {
      expect(html, section).toContain(`<section id="${section}">`);
    }
    expect(html).toContain('<svg id="cluster-sizes"');
    expect(html).toContain('<svg id="silhouette-by-k"');
    // Nothing was ACTIVE before the demo's first model.
    expect(html).toMatch(/<section id="comparison">.*none: no version was ACTIVE/s);
  });

  it('draws one precision–recall curve per tag with a curve, every confident tag among them', () => {
    const evaluations = first.tagEvaluations;
    const confident = evaluations.filter((e) => e.confident);
    expect(confident.length).toBeGreaterThan(0);
    const prCurves = html.match(/<svg id="pr-curve-\d+"/g) ?? [];
    expect(prCurves).toHaveLength(evaluations.filter((e) => e.curve.length > 0).length);
    for (const e of confident) expect(articleOf(html, e.tag)).toMatch(/<svg id="pr-curve-\d+"/);
    // KNOWN tags with enough held-out labels get a calibration curve; PU tags say why not.
    for (const e of evaluations) {
      const article = articleOf(html, e.tag);
      if (e.mode === 'PU') {
        expect(article).not.toContain('id="calibration-');
        expect(article).toContain('No calibration curve: a PU tag');
      } else {
        expect(article).toMatch(/id="calibration-\d+"|No calibration curve/);
      }
    }
    expect(html).toMatch(/<svg id="calibration-\d+"/);
  });

  it('shows the registry’s numbers for a tag, estimates marked as such', () => {
    for (const e of first.tagEvaluations.filter((x) => x.confident)) {
      const article = articleOf(html, e.tag);
      expect(article).toContain(`<td>${e.threshold.toFixed(3)}</td>`);
      expect(article).toContain(`<td>${e.recall.toFixed(3)}</td>`);
      expect(article).toContain(`<td>${e.f1.toFixed(3)}</td>`);
      if (e.mode === 'KNOWN') {
        expect(article).toContain(`<td>${e.precision.toFixed(3)}</td>`);
        expect(article).toContain(`<td>${e.rocAuc.toFixed(3)}</td>`);
      } else {
        expect(article).toContain(`~${e.estimatedPrecision.toFixed(3)} (estimate)`);
      }
    }
    const e = first.tagEvaluations[0];
    const labels = html.slice(
      html.indexOf('<section id="labels">'),
      html.indexOf('</section>', html.indexOf('<section id="labels">')),
    );
    expect(labels).toContain(
      `<td>${e.tag}</td><td>${e.mode}</td><td class="n">${e.positives.toLocaleString('en-US')}</td><td class="n">${e.negatives.toLocaleString('en-US')}</td><td class="n">${e.unlabelled.toLocaleString('en-US')}</td>`,
    );
  });

  it('loads nothing from elsewhere and runs no script', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/<(img|iframe|object|embed|image|use)\b/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(|@import/i);
    expect(html).not.toMatch(/https?:\/\//i);
  });

  it('compares a new version with the one ACTIVE when it was trained, escaping what it shows', async () => {
    const second = await trainModels(t.app.orm, {
      modelsDir: modelsDir(),
      createdBy: '<img src=x onerror=alert(1)>',
      maxEpochs: 5,
    });
    const text = await fs.readFile(path.join(modelsDir(), second.version, 'report.html'), 'utf8');
    const comparison = text.slice(text.indexOf('<section id="comparison">'));
    expect(comparison).toContain(`<strong>${first.version}</strong> (id ${first.id})`);
    for (const e of first.tagEvaluations) expect(comparison).toContain(`<td>${e.tag}</td>`);
    expect(text).not.toContain('<img');
    expect(text).toContain('by &lt;img src=x onerror=alert(1)&gt;');
  }, 120_000);

  it('is served at its signed URL, with a policy that loads nothing else', async () => {
    expect(first.reportUrl).toMatch(/^\/models\/\d+\/report\.html\?key=\d+&expires=\d+&signature=/);
    const res = await get(base, first.reportUrl!);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.body).toBe(html);
  });

  it('serves a Bearer key that sees every tag, and refuses everyone else', async () => {
    const route = `/models/${first.id}/report.html`;
    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
    expect((await get(base, route, bearer(t.keys[Role.VIEWER]))).status).toBe(200);
    expect((await get(base, route)).status).toBe(401);
    expect((await get(base, route, bearer('tw_unknown'))).status).toBe(401);
    const link = new URL(first.reportUrl!, base);
    const forged = new URL(link);
    forged.searchParams.set('signature', `${link.searchParams.get('signature')!.slice(0, -2)}AA`);
    expect((await get(base, forged.pathname + forged.search)).status).toBe(401);
    // A link names its version: it opens no other.
    const elsewhere = `/models/${Number(first.id) + 1}/report.html${link.search}`;
    expect((await get(base, elsewhere)).status).toBe(401);
    // Expired, or promising more time than links get.
    const reports = new ModelReportService(t.app.orm.em.fork());
    const [viewer] = await Promise.all([
      t.app.contextFor(bearer(t.keys[Role.ADMIN])).then((c) => c.viewer!),
    ]);
    const version = { id: first.id, artifactPath: path.dirname(reportFile) } as any;
    const unrestricted = TaxonomyVisibility.unrestricted(t.app.orm.em.fork());
    const old = await reports.linkFor(version, viewer, unrestricted, Date.now() - 3_600_000);
    expect((await get(base, old!)).status).toBe(401);
    const late = new URL(link);
    late.searchParams.set('expires', String(Math.floor(Date.now() / 1000) + 86_400));
    expect((await get(base, late.pathname + late.search)).status).toBe(401);
    // A revoked key's links die with it.
    const auth = new AuthService(t.app.orm.em);
    const { key, apiKey } = await auth.createKey({ role: Role.REVIEWER, name: 'short-lived' });
    const mine = (await t.gql(`{ activeModelVersion { reportUrl } }`, {}, { key })).data!
      .activeModelVersion.reportUrl;
    expect((await get(base, mine)).status).toBe(200);
    await auth.revokeKey(apiKey.id);
    expect((await get(base, mine)).status).toBe(401);
  });

  it('gives no link to a key some tag is hidden from, and refuses it the file', async () => {
    const category = (
      await t.ok(
        `mutation { createTagCategory(input: { key: "restricted-report", name: "R", kind: VALUE, departments: ["finance"] }) { id } }`,
      )
    ).createTagCategory.id;
    await t.ok(
      `mutation($c: ID!) { createTag(input: { key: "credit-risk", name: "Credit risk", categoryId: $c }) { id } }`,
      { c: category },
    );
    const { key } = await new AuthService(t.app.orm.em).createKey({
      role: Role.DATA_SCIENTIST,
      name: 'marketing',
      departments: ['marketing'],
    });
    const { key: finance } = await new AuthService(t.app.orm.em).createKey({
      role: Role.DATA_SCIENTIST,
      name: 'finance',
      departments: ['finance'],
    });
    const data = (await t.gql(`{ activeModelVersion { reportUrl } }`, {}, { key })).data!;
    expect(data.activeModelVersion.reportUrl).toBeNull();
    const route = `/models/${first.id}/report.html`;
    expect((await get(base, route, { authorization: `Bearer ${key}` })).status).toBe(403);
    // Its department's key sees the category, and so every tag.
    expect((await get(base, route, { authorization: `Bearer ${finance}` })).status).toBe(200);
  });

  it('answers 404 for an unknown version, a missing report and any other path', async () => {
    const admin = { authorization: `Bearer ${t.keys[Role.ADMIN]}` };
    expect((await get(base, '/models/999999/report.html', admin)).status).toBe(404);
    for (const p of [
      '/models/..%2F..%2Fpackage.json/report.html',
      '/models/%2e%2e/report.html',
      `/models/${first.id}%2F..%2F..%2F..%2Fpackage.json/report.html`,
      `/models/${first.id}/manifest.json`,
      `/models/${first.id}/../../package.json`,
    ]) {
      const res = await get(base, p, admin);
      expect(res.status, p).toBe(404);
      expect(res.body, p).not.toContain('"name": "tagwise"');
    }
    const moved = `${reportFile}.moved`;
    await fs.rename(reportFile, moved);
    try {
      const route = `/models/${first.id}/report.html`;
      expect((await get(base, route, admin)).status).toBe(404);
      expect(
        (await t.ok(`{ activeModelVersion { reportUrl } }`)).activeModelVersion.reportUrl,
      ).toBeNull();
    } finally {
      await fs.rename(moved, reportFile);
    }
  });

  it('`tagwise models report` prints the path, and writes a missing one with --write', async () => {
    const cli = (...args: string[]) =>
      promisify(execFile)('node', ['bin/tagwise.js', 'models', 'report', ...args], {
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' },
      }).then(
        (done) => ({ code: 0, ...done }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
    expect((await cli(first.id)).stdout).toBe(`${reportFile}\n`);
    const unknown = await cli('no-such-version');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('ModelVersion no-such-version does not exist\n');

    const moved = `${reportFile}.moved`;
    await fs.rename(reportFile, moved);
    try {
      const missing = await cli(first.id);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`tagwise models report ${first.id} --write`);
      expect(missing.stderr.trim().split('\n')).toHaveLength(1);
      const written = await cli(first.id, '--write');
      expect(written.stdout).toBe(`${reportFile}\n`);
      const regenerated = await fs.readFile(reportFile, 'utf8');
      for (const section of ['data', 'labels', 'metrics', 'thresholds', 'segments', 'comparison']) {
        expect(regenerated, section).toContain(`<section id="${section}">`);
      }
      expect(regenerated).toContain('from the model registry, for a version trained before');
      // The stored curves are all there; calibration needs held-out scores, which were not kept.
      expect(regenerated.match(/<svg id="pr-curve-\d+"/g)).toEqual(
        html.match(/<svg id="pr-curve-\d+"/g),
      );
      expect(regenerated).not.toContain('id="calibration-');
      expect(regenerated).toContain('the held-out scores were not kept with this version');
    } finally {
      await fs.rename(moved, reportFile);
    }
  }, 60_000);
});
