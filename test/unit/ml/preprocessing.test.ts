import { describe, expect, it } from 'vitest';
import {
  describeColumns,
  FeatureSchemaError,
  fitPreprocessor,
  loadPreprocessor,
  type FeatureRow,
  type NumericFeatureSpec,
  transformFeatures,
} from '../../../src/ml/preprocessing.js';
import { createRng } from '../../../src/ml/random.js';
import { gaussian } from './synthetic.js';

// 400 customers: a heavy-tailed spend, a roughly normal age with gaps, a 0/1 flag, a region.
function customers(): FeatureRow[] {
  const rng = createRng(1);
  return Array.from({ length: 400 }, (_, i) => ({
    spend: Math.round(Math.exp(3 + 1.5 * gaussian(rng))),
    age: i % 10 === 0 ? null : Math.round(40 + 10 * gaussian(rng)),
    vip: i % 7 === 0 ? 1 : 0,
    region: i % 100 === 0 ? 'Atlantis' : i % 3 === 0 ? 'South China' : 'East China',
  }));
}

const column = (m: { data: Float32Array; cols: number; rows: number }, j: number) =>
  Array.from({ length: m.rows }, (_, i) => m.data[i * m.cols + j]!);

describe('fitPreprocessor', () => {
  const rows = customers();
  const pre = fitPreprocessor(rows);
  const spec = (name: string) => pre.features.find((f) => f.name === name)!;

  it('takes log1p of heavy-tailed money only, unless a hint says otherwise', () => {
    expect(spec('spend')).toMatchObject({ kind: 'numeric', log: true });
    expect(spec('age')).toMatchObject({ kind: 'numeric', log: false });
    expect(spec('vip')).toMatchObject({ kind: 'numeric', log: false, binary: true });
    const hinted = fitPreprocessor(rows, { hints: { spend: { log: false }, age: { log: true } } });
    expect(hinted.features.map((f) => f.kind === 'numeric' && f.log)).toEqual([
      false,
      true,
      false,
      false,
    ]);
  });

  it('standardises numeric columns', () => {
    const m = transformFeatures(pre, rows);
    const spend = column(m, m.columns.indexOf('spend'));
    const mean = spend.reduce((a, b) => a + b) / spend.length;
    const sd = Math.sqrt(spend.reduce((a, b) => a + (b - mean) ** 2, 0) / spend.length);
    expect(mean).toBeCloseTo(0, 5);
    expect(sd).toBeCloseTo(1, 4);
  });

  it('imputes the median and adds a missing flag only where values were missing', () => {
    const age = spec('age') as NumericFeatureSpec;
    expect(age.missingFlag).toBe(true);
    expect(spec('spend')).toMatchObject({ missingFlag: false });
    const m = transformFeatures(pre, [{ spend: 10, age: null, vip: 0, region: 'East China' }]);
    expect(m.columns).toContain('age:missing');
    expect(m.columns).not.toContain('spend:missing');
    expect(m.data[m.columns.indexOf('age')]).toBeCloseTo((age.median - age.center) / age.scale, 6);
    expect(m.data[m.columns.indexOf('age:missing')]).toBe(1);
  });

  it('one-hot encodes the top categories and sends the rest to "other"', () => {
    expect(spec('region')).toMatchObject({
      kind: 'categorical',
      categories: ['East China', 'South China'],
      missingFlag: false,
    });
    const m = transformFeatures(pre, [
      { spend: 1, age: 30, vip: 1, region: 'South China' },
      { spend: 1, age: 30, vip: 1, region: 'Atlantis' },
      { spend: 1, age: 30, vip: 1, region: 'Mars' },
    ]);
    const oneHot = ['region=East China', 'region=South China', 'region:other'].map((name) =>
      column(m, m.columns.indexOf(name)),
    );
    expect(oneHot).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [0, 1, 1],
    ]);
  });

  it('names every column with the feature it comes from', () => {
    expect(describeColumns(pre).map((c) => `${c.feature}/${c.role}`)).toEqual([
      'spend/value',
      'age/value',
      'age/missing',
      'vip/value',
      'region/category',
      'region/category',
      'region/other',
    ]);
  });

  it('validates its input', () => {
    expect(() => fitPreprocessor([])).toThrow(/at least one row/);
    expect(() => fitPreprocessor([{ a: {} as never }])).toThrow(/object value/);
    expect(() => fitPreprocessor(rows, { hints: { nope: { log: true } } })).toThrow(/unknown/);
    expect(() => fitPreprocessor([{ a: -1 }, { a: 5 }], { hints: { a: { log: true } } })).toThrow(
      /negative/,
    );
  });
});

describe('a saved preprocessor', () => {
  const rows = customers();
  const pre = fitPreprocessor(rows);

  it('round-trips through JSON and transforms identically', () => {
    const loaded = loadPreprocessor(JSON.stringify(pre));
    expect(loaded).toEqual(pre);
    expect(transformFeatures(loaded, rows)).toEqual(transformFeatures(pre, rows));
  });

  it('refuses rows whose features differ from the fitted ones, naming them', () => {
    const loaded = loadPreprocessor(JSON.parse(JSON.stringify(pre)));
    const renamed = rows.map(({ spend, ...rest }) => ({ ...rest, spending: spend }));
    expect(() => transformFeatures(loaded, renamed)).toThrow(FeatureSchemaError);
    try {
      transformFeatures(loaded, renamed);
    } catch (error) {
      expect(error).toMatchObject({ missing: ['spend'], unexpected: ['spending'] });
      expect((error as Error).message).toBe(
        'feature schema mismatch: missing spend; unexpected spending',
      );
    }
  });

  it('refuses JSON that is not a fitted preprocessor', () => {
    expect(() => loadPreprocessor({ version: 2, features: [] })).toThrow(/not a fitted/);
    const broken = JSON.parse(JSON.stringify(pre));
    broken.features[0].scale = 0;
    expect(() => loadPreprocessor(broken)).toThrow(/not a fitted/);
  });
});
