import { describe, expect, it } from 'vitest';
import type { TagEvaluation } from '../../../src/ml/classifier/index.js';
import { createMatrix } from '../../../src/ml/matrix.js';
import {
  calibrationByTag,
  distinctiveColumns,
  escapeHtml,
  renderTrainingReport,
  type TrainingReportInput,
} from '../../../src/ml/report/index.js';

const HOSTILE = `<script>alert("x")</script>'&`;

function evaluation(tag: string, overrides: Partial<TagEvaluation> = {}): TagEvaluation {
  return {
    tag,
    mode: 'KNOWN',
    positives: 40,
    negatives: 120,
    unlabelled: 240,
    heldOut: { customers: 140, positives: 12, negatives: 40 },
    targetPrecision: 0.9,
    threshold: 0.61234,
    precision: 0.92308,
    estimatedPrecision: null,
    precisionInterval: { low: 0.71, high: 0.98 },
    recall: 0.75,
    f1: 0.82759,
    rocAuc: 0.954,
    prAuc: 0.881,
    estimatedRocAuc: null,
    labelFrequency: null,
    flagged: 13,
    positivesFlagged: 12,
    confident: true,
    reason: null,
    note: null,
    method: 'counted on 52 held-out customers with known labels',
    curve: [
      { threshold: 0.9, precision: 1, recall: 0.25 },
      { threshold: 0.61234, precision: 0.92308, recall: 0.75 },
      { threshold: 0.2, precision: 0.5, recall: 1 },
    ],
    ...overrides,
  };
}

function input(overrides: Partial<TrainingReportInput> = {}): TrainingReportInput {
  return {
    version: '20260101T000000000-s42-abcd',
    createdAt: '2026-01-01T00:00:00.000Z',
    createdBy: 'demo',
    seed: 42,
    backend: 'wasm',
    data: {
      customers: 400,
      featureSetVersion: 3,
      features: ['spend_365d', 'purchases_365d'],
      inputColumns: 12,
      rows: { train: 256, validation: 64, test: 80 },
      split: { validationFraction: 0.16, testFraction: 0.2 },
      epochs: 27,
      bestEpoch: 15,
    },
    evaluations: [
      evaluation('high-value'),
      evaluation(HOSTILE, {
        mode: 'PU',
        precision: null,
        estimatedPrecision: 0.9051,
        rocAuc: null,
        prAuc: null,
        estimatedRocAuc: 0.97,
        method: 'estimated from 144 held-out customers',
      }),
      evaluation('rare', {
        confident: false,
        threshold: null,
        precision: null,
        recall: null,
        f1: null,
        flagged: null,
        positivesFlagged: null,
        curve: [],
        reason: 'only 2 positive(s) among held-out customers; need ≥ 5',
      }),
    ],
    skippedTags: [{ tag: 'tiny', reason: '3 positive(s); need ≥ 5' }],
    calibration: {
      'high-value': [
        { low: 0, high: 0.1, count: 30, meanScore: 0.04, positiveRate: 0.03 },
        { low: 0.9, high: 1, count: 22, meanScore: 0.93, positiveRate: 0.5 },
      ],
      rare: [{ low: 0, high: 0.1, count: 9, meanScore: 0.02, positiveRate: 0 }],
    },
    segments: {
      k: 3,
      silhouette: 0.31,
      candidates: [
        { k: 2, silhouette: 0.2, inertia: 900 },
        { k: 3, silhouette: 0.31, inertia: 700 },
        { k: 4, silhouette: 0.25, inertia: 650 },
      ],
      clusters: [0, 1, 2].map((index) => ({
        index,
        label: index === 1 ? `<b>wine</b> lovers` : `segment ${index + 1}`,
        size: 100 + index,
        fraction: 0.3,
        medians: { spend_365d: 1234.5, purchases_365d: 4 },
        topCategories: [{ category: 'wine', share: 0.4, lift: 2.1 }],
        distinctive: [{ column: 'spend_365d', clusterMean: 1, overallMean: 0, z: -1.25 }],
      })),
    },
    previous: {
      id: '7',
      version: 'older',
      evaluations: [evaluation('high-value', { precision: 0.9 }), evaluation('gone')],
    },
    ...overrides,
  };
}

describe('renderTrainingReport', () => {
  const html = renderTrainingReport(input());

  it('escapes every string from the data', () => {
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>wine</b>');
    expect(html).toContain(escapeHtml(HOSTILE));
    expect(html).toContain('&lt;b&gt;wine&lt;/b&gt; lovers');
    expect(escapeHtml(`a"b'c<d>&`)).toBe('a&quot;b&#39;c&lt;d&gt;&amp;');
  });

  it('draws a precision–recall curve where there is one and says why where there is none', () => {
    expect(html.match(/<svg id="pr-curve-\d+"/g)).toEqual([
      '<svg id="pr-curve-0"',
      '<svg id="pr-curve-1"',
    ]);
    expect(html).toContain(
      'No precision–recall curve: only 2 positive(s) among held-out customers; need ≥ 5.',
    );
  });

  it('draws calibration for KNOWN tags with enough held-out labels only, saying why otherwise', () => {
    expect(html.match(/<svg id="calibration-\d+"/g)).toEqual(['<svg id="calibration-0"']);
    expect(html).toContain('No calibration curve: a PU tag');
    expect(html).toContain('No calibration curve: 9 held-out known label(s), 0 positive');
    const regenerated = renderTrainingReport(input({ calibration: null }));
    expect(regenerated).not.toContain('id="calibration-');
    expect(regenerated).toContain('the held-out scores were not kept with this version');
  });

  it('labels estimates and shows the stored numbers', () => {
    expect(html).toContain('<td>0.923</td>');
    expect(html).toContain('~0.905 (estimate)');
    expect(html).toContain('<td>0.612</td>');
    expect(html).toContain('lowest threshold whose precision (0.923) reaches the target 0.9');
  });

  it('compares with the previous version tag by tag, or says there was none', () => {
    const comparison = html.slice(html.indexOf('<section id="comparison">'));
    expect(comparison).toContain('<strong>older</strong> (id 7)');
    expect(comparison).toContain('+0.023');
    expect(comparison).toMatch(/<td>gone<\/td><td><span class="muted">not learnt/);
    expect(renderTrainingReport(input({ previous: null }))).toContain(
      'none: no version was ACTIVE when this one was trained',
    );
  });
});

describe('distinctiveColumns', () => {
  it('ranks columns by the cluster’s standardised difference, leaving constant ones out', () => {
    // Column a separates the clusters; b is noise around the same mean; c is constant.
    const rows = [
      [2, 0.1, 1],
      [2, -0.1, 1],
      [-2, 0.1, 1],
      [-2, -0.1, 1],
    ];
    const m = createMatrix(Float32Array.from(rows.flat()), 4, 3);
    const [first, second] = distinctiveColumns(m, ['a', 'b', 'c'], [0, 0, 1, 1], 2, 5);
    expect(first!.map((d) => d.column)).toEqual(['a', 'b']);
    expect(first![0]!.z).toBeCloseTo(1, 6);
    expect(second![0]!.z).toBeCloseTo(-1, 6);
    expect(first![1]!.z).toBeCloseTo(0, 6);
  });
});

describe('calibrationByTag', () => {
  it('bins KNOWN tags on measurable labels only', () => {
    // Two tags, three rows; the second row's first label is a reviewer's rejection (not measured).
    const result = calibrationByTag(
      {
        probabilities: Float32Array.from([0.05, 0.9, 0.95, 0.8, 0.97, 0.1]),
        labels: Float32Array.from([0, 1, 0, Number.NaN, 1, 0]),
        measurable: Uint8Array.from([1, 1, 0, 1, 1, 1]),
      },
      [
        { tag: 'a', mode: 'KNOWN' },
        { tag: 'b', mode: 'PU' },
      ],
    );
    expect(Object.keys(result)).toEqual(['a']);
    expect(result.a!.map((b) => [b.count, b.positiveRate])).toEqual([
      [1, 0],
      [1, 1],
    ]);
  });
});
