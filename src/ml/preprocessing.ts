import { z } from 'zod';
import { type Matrix } from './matrix.js';

/** One feature value as computed or imported: numbers, flags, category names, or missing. */
export type FeatureValue = number | string | boolean | null | undefined;
/** One customer's features by name. A missing key is a missing value. */
export type FeatureRow = Readonly<Record<string, FeatureValue>>;

export interface FeatureHint {
  /** Overrides the kind inferred from the values (a string anywhere makes a feature categorical). */
  kind?: 'numeric' | 'categorical';
  /** true: always log1p; false: never; absent: decided from the data's skewness. */
  log?: boolean;
}

export interface PreprocessingOptions {
  hints: Readonly<Record<string, FeatureHint>>;
  /** A non-negative numeric feature more right-skewed than this gets log1p (when that helps). */
  skewThreshold: number;
  /** One-hot columns per categorical feature; the rest share an "other" column. */
  maxCategories: number;
  /** Categories seen fewer times go to "other": a column learnt from three rows is noise. */
  minCategoryCount: number;
}

export const DEFAULT_PREPROCESSING_OPTIONS: PreprocessingOptions = {
  hints: {},
  skewThreshold: 1,
  maxCategories: 10,
  minCategoryCount: 5,
};

export interface NumericFeatureSpec {
  name: string;
  kind: 'numeric';
  log: boolean;
  /** Median of the observed raw values: the imputed value, and the reference explanations use. */
  median: number;
  /** Mean and standard deviation after the log, if any. */
  center: number;
  scale: number;
  /** Only two distinct values were seen (a 0/1 flag). */
  binary: boolean;
  /** Values were missing when fitted, so a 0/1 "missing" column follows the value column. */
  missingFlag: boolean;
}

export interface CategoricalFeatureSpec {
  name: string;
  kind: 'categorical';
  /** The one-hot categories, most frequent first; anything else is "other". */
  categories: string[];
  missingFlag: boolean;
}

export type FeatureSpec = NumericFeatureSpec | CategoricalFeatureSpec;

/** A fitted preprocessor: plain data, stored with the model as JSON. */
export interface Preprocessor {
  version: 1;
  features: FeatureSpec[];
}

export interface ColumnSpec {
  name: string;
  /** The input feature the column comes from. */
  feature: string;
  role: 'value' | 'missing' | 'category' | 'other';
  category?: string;
}

/** A transformed table: row-major float32 values and the name of every column. */
export interface FeatureMatrix extends Matrix {
  readonly columns: readonly string[];
}

/** Thrown when rows do not carry exactly the features a preprocessor was fitted on. */
export class FeatureSchemaError extends Error {
  constructor(
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
  ) {
    const parts = [
      missing.length ? `missing ${missing.join(', ')}` : '',
      unexpected.length ? `unexpected ${unexpected.join(', ')}` : '',
    ].filter(Boolean);
    super(`feature schema mismatch: ${parts.join('; ')}`);
    this.name = 'FeatureSchemaError';
  }
}

function featureNamesOf(rows: readonly FeatureRow[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) names.add(key);
  return [...names];
}

function isMissing(value: unknown): value is null | undefined | '' {
  return value === null || value === undefined || value === '';
}

function toNumber(value: FeatureValue, feature: string, row: number): number {
  if (isMissing(value)) return Number.NaN;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) {
    throw new RangeError(`feature ${feature}, row ${row}: "${value}" is not a number`);
  }
  return parsed;
}

function validateRows(rows: readonly FeatureRow[], what: string): void {
  if (!Array.isArray(rows)) throw new TypeError(`${what}: rows must be an array of objects`);
  rows.forEach((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new TypeError(`${what}: row ${i} is not an object of feature values`);
    }
    for (const [key, value] of Object.entries(row) as [string, unknown][]) {
      const type = typeof value;
      if (!isMissing(value) && type !== 'number' && type !== 'string' && type !== 'boolean') {
        throw new TypeError(`${what}: row ${i}, feature ${key} has a ${type} value`);
      }
    }
  });
}

/** Sample skewness (Fisher–Pearson, biased), 0 for constant data. */
function skewness(values: Float64Array): number {
  const n = values.length;
  let mean = 0;
  for (const v of values) mean += v;
  mean /= n;
  let m2 = 0;
  let m3 = 0;
  for (const v of values) {
    const d = v - mean;
    m2 += d * d;
    m3 += d * d * d;
  }
  m2 /= n;
  m3 /= n;
  return m2 > 0 ? m3 / m2 ** 1.5 : 0;
}

function meanAndStd(values: Float64Array): { center: number; scale: number } {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2;
  const std = Math.sqrt(variance / values.length);
  // A constant column stays 0 after centring; dividing by ~0 would blow up any later deviation.
  return { center: mean, scale: std > 1e-12 ? std : 1 };
}

function fitNumeric(
  name: string,
  rows: readonly FeatureRow[],
  hint: FeatureHint,
  options: PreprocessingOptions,
): NumericFeatureSpec {
  const observed: number[] = [];
  rows.forEach((row, i) => {
    const v = toNumber(row[name], name, i);
    if (!Number.isNaN(v)) observed.push(v);
  });
  const missingFlag = observed.length < rows.length;
  if (observed.length === 0) {
    return {
      name,
      kind: 'numeric',
      log: false,
      median: 0,
      center: 0,
      scale: 1,
      binary: false,
      missingFlag,
    };
  }
  const raw = Float64Array.from(observed).sort();
  const mid = raw.length >> 1;
  const median = raw.length % 2 ? raw[mid]! : (raw[mid - 1]! + raw[mid]!) / 2;
  let distinct = 1;
  for (let i = 1; i < raw.length && distinct <= 2; i++) if (raw[i] !== raw[i - 1]) distinct++;
  const binary = distinct <= 2;
  const nonNegative = raw[0]! >= 0;
  if (hint.log && !nonNegative) {
    throw new RangeError(`feature ${name} has negative values, so it cannot take log1p`);
  }
  const logged = raw.map(Math.log1p);
  // Flags and counts with two values gain nothing from a log; for the rest, the log must actually
  // make the distribution more symmetric, not just be allowed.
  const log =
    hint.log ??
    (nonNegative &&
      !binary &&
      skewness(raw) > options.skewThreshold &&
      Math.abs(skewness(logged)) < Math.abs(skewness(raw)));
  return {
    name,
    kind: 'numeric',
    log,
    median,
    ...meanAndStd(log ? logged : raw),
    binary,
    missingFlag,
  };
}

function fitCategorical(
  name: string,
  rows: readonly FeatureRow[],
  options: PreprocessingOptions,
): CategoricalFeatureSpec {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const row of rows) {
    const value = row[name];
    if (isMissing(value)) missing++;
    else counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
  }
  const categories = [...counts]
    .filter(([, count]) => count >= options.minCategoryCount)
    .sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, options.maxCategories)
    .map(([category]) => category);
  return { name, kind: 'categorical', categories, missingFlag: missing > 0 };
}

function validateOptions(options: PreprocessingOptions): void {
  if (!(options.skewThreshold >= 0)) {
    throw new RangeError(`skewThreshold must be non-negative, got ${options.skewThreshold}`);
  }
  if (!Number.isInteger(options.maxCategories) || options.maxCategories < 0) {
    throw new RangeError(`maxCategories must be a non-negative integer`);
  }
  if (!Number.isInteger(options.minCategoryCount) || options.minCategoryCount < 1) {
    throw new RangeError(`minCategoryCount must be a positive integer`);
  }
}

/**
 * Learns how to turn feature rows into a numeric matrix: numeric features are imputed with the
 * median (plus a missing flag where values were missing), optionally log1p-transformed and
 * standardised; categorical features become one-hot columns for their top categories plus
 * "other". Features are taken in order of first appearance in `rows`.
 */
export function fitPreprocessor(
  rows: readonly FeatureRow[],
  options: Partial<PreprocessingOptions> = {},
): Preprocessor {
  const merged: PreprocessingOptions = { ...DEFAULT_PREPROCESSING_OPTIONS, ...options };
  validateRows(rows, 'fitPreprocessor');
  validateOptions(merged);
  if (rows.length === 0) throw new RangeError('fitPreprocessor needs at least one row');
  const names = featureNamesOf(rows);
  if (names.length === 0) throw new RangeError('fitPreprocessor: the rows have no features');
  for (const hinted of Object.keys(merged.hints)) {
    if (!names.includes(hinted)) throw new RangeError(`hint for unknown feature ${hinted}`);
  }
  const features = names.map((name): FeatureSpec => {
    const hint = merged.hints[name] ?? {};
    const kind =
      hint.kind ??
      (rows.some((row) => typeof row[name] === 'string' && row[name] !== '')
        ? 'categorical'
        : 'numeric');
    return kind === 'numeric'
      ? fitNumeric(name, rows, hint, merged)
      : fitCategorical(name, rows, merged);
  });
  return { version: 1, features };
}

/** Every output column, in order, with the feature it comes from. */
export function describeColumns(preprocessor: Preprocessor): ColumnSpec[] {
  return preprocessor.features.flatMap((f): ColumnSpec[] => {
    const missing: ColumnSpec[] = f.missingFlag
      ? [{ name: `${f.name}:missing`, feature: f.name, role: 'missing' }]
      : [];
    if (f.kind === 'numeric') return [{ name: f.name, feature: f.name, role: 'value' }, ...missing];
    return [
      ...f.categories.map((category): ColumnSpec => ({
        name: `${f.name}=${category}`,
        feature: f.name,
        role: 'category',
        category,
      })),
      { name: `${f.name}:other`, feature: f.name, role: 'other' },
      ...missing,
    ];
  });
}

/** Throws a FeatureSchemaError unless `names` are exactly the features the preprocessor knows. */
export function assertFeatureSchema(preprocessor: Preprocessor, names: Iterable<string>): void {
  const expected = new Set(preprocessor.features.map((f) => f.name));
  const given = new Set(names);
  const missing = [...expected].filter((name) => !given.has(name));
  const unexpected = [...given].filter((name) => !expected.has(name));
  if (missing.length || unexpected.length) throw new FeatureSchemaError(missing, unexpected);
}

/** The value of a numeric feature after imputation, log and scaling, as `transform` computes it. */
export function scaleNumeric(spec: NumericFeatureSpec, raw: number): number {
  const value = Number.isNaN(raw) ? spec.median : raw;
  // A value below 0 at scoring time (fitted data had none) would make log1p −∞ or NaN.
  const x = spec.log ? Math.log1p(Math.max(value, 0)) : value;
  return (x - spec.center) / spec.scale;
}

/**
 * Applies a fitted preprocessor. The rows must carry exactly the fitted features (a row may
 * leave a value out); unseen categories go to "other", and a missing value where none was seen
 * in fitting is imputed without a flag.
 */
export function transformFeatures(
  preprocessor: Preprocessor,
  rows: readonly FeatureRow[],
): FeatureMatrix {
  if (!Array.isArray(rows))
    throw new TypeError('transformFeatures: rows must be an array of objects');
  const columns = describeColumns(preprocessor);
  const cols = columns.length;
  const data = new Float32Array(rows.length * cols);
  const specs = preprocessor.features;
  // Row by row, one pass: scoring a million customers spends most of its time here, and passes
  // that first listed every row's keys and entries (to validate them) cost three times the rest.
  const offsets = new Int32Array(specs.length);
  const indexes = specs.map((spec) =>
    spec.kind === 'categorical' ? new Map(spec.categories.map((c, j) => [c, j])) : null,
  );
  let offset = 0;
  specs.forEach((spec, k) => {
    offsets[k] = offset;
    offset +=
      spec.kind === 'numeric'
        ? spec.missingFlag
          ? 2
          : 1
        : spec.categories.length + 1 + (spec.missingFlag ? 1 : 0);
  });
  const seen = new Uint8Array(specs.length);
  let consistent = true;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new TypeError(`transformFeatures: row ${i} is not an object of feature values`);
    }
    const base = i * cols;
    let present = 0;
    for (let k = 0; k < specs.length; k++) {
      const spec = specs[k]!;
      const value = row[spec.name];
      if (value !== undefined) {
        present++;
        seen[k] = 1;
        if (value !== null && typeof value === 'object') {
          throw new TypeError(
            `transformFeatures: row ${i}, feature ${spec.name} has a object value`,
          );
        }
      }
      const at = base + offsets[k]!;
      if (spec.kind === 'numeric') {
        const raw = toNumber(value, spec.name, i);
        data[at] = scaleNumeric(spec, raw);
        if (spec.missingFlag) data[at + 1] = Number.isNaN(raw) ? 1 : 0;
      } else if (isMissing(value)) {
        if (spec.missingFlag) data[at + spec.categories.length + 1] = 1;
      } else {
        data[at + (indexes[k]!.get(String(value)) ?? spec.categories.length)] = 1;
      }
    }
    if (Object.keys(row).length !== present) consistent = false;
  }
  // Keys the preprocessor does not know, or a feature no row carries: the slow checks name them.
  if (!consistent || seen.includes(0)) {
    validateRows(rows, 'transformFeatures');
    assertFeatureSchema(preprocessor, featureNamesOf(rows));
  }
  return { data, rows: rows.length, cols, columns: columns.map((c) => c.name) };
}

const finite = z.number().finite();
const preprocessorSchema = z.object({
  version: z.literal(1),
  features: z
    .array(
      z.discriminatedUnion('kind', [
        z.object({
          name: z.string().min(1),
          kind: z.literal('numeric'),
          log: z.boolean(),
          median: finite,
          center: finite,
          scale: finite.positive(),
          binary: z.boolean(),
          missingFlag: z.boolean(),
        }),
        z.object({
          name: z.string().min(1),
          kind: z.literal('categorical'),
          categories: z.array(z.string()),
          missingFlag: z.boolean(),
        }),
      ]),
    )
    .min(1),
});

/** Reads a preprocessor back from its JSON form (a string or the parsed value), checking it. */
export function loadPreprocessor(json: unknown): Preprocessor {
  const value: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  const parsed = preprocessorSchema.safeParse(value);
  if (!parsed.success) {
    throw new TypeError(`not a fitted preprocessor: ${z.prettifyError(parsed.error)}`);
  }
  const names = parsed.data.features.map((f) => f.name);
  if (new Set(names).size !== names.length) {
    throw new TypeError('not a fitted preprocessor: feature names repeat');
  }
  return parsed.data;
}
