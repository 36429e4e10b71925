import fs from 'node:fs/promises';
import path from 'node:path';
import {
  type CurvePoint,
  decideTags,
  loadClassifier,
  predictTags,
  type TagClassifier,
} from '../../ml/classifier/index.js';
import { explainPredictions } from '../../ml/explain.js';
import { assignClusters, type KMeansModel } from '../../ml/kmeans.js';
import { concatColumns, selectRows } from '../../ml/matrix.js';
import {
  loadPreprocessor,
  transformFeatures,
  type FeatureRow,
  type Preprocessor,
} from '../../ml/preprocessing.js';
import { HOLDERS_FILE, type HolderMedians } from '../holder-medians.js';
import { cpuBetween, threadCpuMs } from './thread-cpu.js';

/** Everything a worker needs to score; plain data, sent once as workerData. */
export interface ScorerConfig {
  artifactDir: string;
  tagIds: readonly string[];
  tagNames: readonly string[];
  clusterIds: readonly string[];
  clusterLabels: readonly string[];
  valueFeature: string | null;
  /** Reviewer wording per feature name (feature definitions' descriptions). */
  descriptions: Readonly<Record<string, string>>;
  /** Wording of a missing value, where the definition gives one. */
  missing: Readonly<Record<string, string>>;
  /** Features whose values are shares (0–1), worded as percentages. */
  shares: readonly string[];
  /** null: no explanations (the column is \N). */
  explain: { topK: number; steps: number; batchSize: number } | null;
}

export interface Scorer {
  readonly config: ScorerConfig;
  readonly preprocessor: Preprocessor;
  readonly kmeans: KMeansModel;
  readonly classifier: TagClassifier;
  /** Per model tag index, the holders' median of each numeric feature (holders.json), or null. */
  readonly holderMedians: (Record<string, number> | null)[];
}

/** Raised for anything wrong with a model folder, naming the file. */
export class ArtifactError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ArtifactError';
  }
}

async function readJson(dir: string, file: string): Promise<unknown> {
  const full = path.join(dir, file);
  try {
    return JSON.parse(await fs.readFile(full, 'utf8'));
  } catch (error) {
    throw new ArtifactError(`cannot read model artifact ${full}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * The held-out precision of a tag's suggestions at or above `confidence`: the curve point with the
 * lowest threshold that is still at least `confidence` (the curve runs strict to lenient).
 */
export function precisionAt(curve: readonly CurvePoint[], confidence: number): number | null {
  let at: CurvePoint | null = null;
  for (const point of curve) {
    if (point.threshold < confidence) break;
    at = point;
  }
  return at?.precision ?? curve[0]?.precision ?? null;
}

/**
 * Loads a model folder and checks it against the ids the caller mapped to it: a tag or cluster
 * index without a row id would silently write wrong rows.
 */
export async function createScorer(config: ScorerConfig): Promise<Scorer> {
  const dir = config.artifactDir;
  let preprocessor: Preprocessor;
  try {
    preprocessor = loadPreprocessor(await readJson(dir, 'preprocessor.json'));
  } catch (error) {
    if (error instanceof ArtifactError) throw error;
    throw new ArtifactError(`${path.join(dir, 'preprocessor.json')}: ${(error as Error).message}`);
  }
  const kmeans = (await readJson(dir, 'kmeans.json')) as KMeansModel;
  if (!Array.isArray(kmeans?.centroids) || kmeans.centroids.length === 0) {
    throw new ArtifactError(`${path.join(dir, 'kmeans.json')} has no centroids`);
  }
  let classifier: TagClassifier;
  try {
    classifier = await loadClassifier(path.join(dir, 'classifier'));
  } catch (error) {
    throw new ArtifactError(
      `cannot load the classifier in ${path.join(dir, 'classifier')}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const { meta } = classifier;
  const k = kmeans.centroids.length;
  const problems = [
    config.tagIds.length !== meta.tags.length &&
      `${config.tagIds.length} tag ids for the model's ${meta.tags.length} tags`,
    config.clusterIds.length !== k && `${config.clusterIds.length} cluster ids for ${k} clusters`,
    config.clusterLabels.length !== k &&
      `${config.clusterLabels.length} cluster labels for ${k} clusters`,
    config.valueFeature !== null &&
      !preprocessor.features.some((f) => f.name === config.valueFeature && f.kind === 'numeric') &&
      `value feature ${config.valueFeature} is not a numeric feature of the model`,
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) {
    classifier.network.dispose();
    throw new ArtifactError(
      `model ${dir} does not match the scoring input: ${problems.join('; ')}`,
    );
  }
  // holders.json came with honest metrics; a folder without it is worded against everyone only.
  const holders = (await fs
    .readFile(path.join(dir, HOLDERS_FILE), 'utf8')
    .then((text) => JSON.parse(text) as HolderMedians)
    .catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw new ArtifactError(`cannot read ${path.join(dir, HOLDERS_FILE)}: ${error.message}`);
    })) ?? { tags: {} };
  const holderMedians = meta.tags.map((tag) => holders.tags[tag] ?? null);
  return { config, preprocessor, kmeans, classifier, holderMedians };
}

const COPY_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};

/** COPY text escaping, as encodeValue in modules/common/copy.ts. */
export function escapeCopyText(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!);
}

const COPY_UNESCAPES: Record<string, string> = {
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
};

/** Reverses COPY TO text escaping (PostgreSQL writes no octal or hex escapes on output). */
function unescapeCopyText(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => COPY_UNESCAPES[c] ?? c);
}

export interface FeatureBatch {
  customerIds: string[];
  rows: FeatureRow[];
}

const NEWLINE = 10;
const TAB = 9;

/**
 * Parses `customer_id<TAB>values` lines of a `COPY … TO STDOUT` (text format) of
 * customer_features: the jsonb arrives as text so that JSON.parse runs here, in a worker.
 *
 * Each line is decoded on its own (a newline byte never occurs inside a UTF-8 character): on a
 * batch of 4096 demo rows, decoding the whole 8 MB first and slicing it made decode and parse take
 * twice as long, as each parse read a slice of one large string.
 */
export function parseFeatureLines(bytes: Uint8Array): FeatureBatch {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const customerIds: string[] = [];
  const rows: FeatureRow[] = [];
  let start = 0;
  while (start < buffer.length) {
    let end = buffer.indexOf(NEWLINE, start);
    if (end < 0) end = buffer.length;
    const tab = buffer.indexOf(TAB, start);
    if (tab < 0 || tab > end) {
      throw new RangeError(`malformed feature line: ${buffer.toString('utf8', start, end)}`);
    }
    const json = buffer.toString('utf8', tab + 1, end);
    customerIds.push(buffer.toString('latin1', start, tab));
    rows.push(JSON.parse(json.includes('\\') ? unescapeCopyText(json) : json) as FeatureRow);
    start = end + 1;
  }
  return { customerIds, rows };
}

export interface ScoredBatch {
  /** Candidate lines in COPY text format, in customer order, then tag order. */
  text: string;
  candidates: number;
  scoreMs: number;
  explainMs: number;
  /** The thread's CPU time in each step, where the system tells (see threadCpuMs). */
  scoreCpuMs: number | null;
  explainCpuMs: number | null;
}

/** Shortest text that reads back as the same double (a float32 probability stays exact). */
const number = (value: number) => String(value);
// Four decimals, except that a contribution never rounds to 0: its sign is its direction.
const rounded = (value: number) => Math.round(value * 1e4) / 1e4 || value;

/**
 * Scores feature rows exactly as training built the classifier input (preprocess, distances to
 * the k-means centroids appended), keeps decideTags' confident tags and writes them as COPY text.
 */
export async function scoreFeatureRows(scorer: Scorer, batch: FeatureBatch): Promise<ScoredBatch> {
  const started = performance.now();
  const startedCpu = threadCpuMs();
  const { config, preprocessor, kmeans, classifier } = scorer;
  const { customerIds, rows } = batch;
  if (rows.length === 0) {
    return { text: '', candidates: 0, scoreMs: 0, explainMs: 0, scoreCpuMs: 0, explainCpuMs: 0 };
  }
  const inputs = transformFeatures(preprocessor, rows);
  const assignment = assignClusters(kmeans, inputs);
  const features = concatColumns(inputs, assignment.distances);
  const probabilities = await predictTags(classifier, features, { batchSize: rows.length });
  const decisions = decideTags(classifier, probabilities);
  const scored = performance.now();
  const scoredCpu = threadCpuMs();

  let explanations: string[] | null = null;
  if (config.explain && decisions.length > 0) {
    const explained = await explainPredictions(
      { classifier, preprocessor },
      {
        features: selectRows(
          features,
          decisions.map((d) => d.row),
        ),
        raw: decisions.map((d) => rows[d.row]!),
        tagIndices: decisions.map((d) => d.tagIndex),
      },
      {
        topK: config.explain.topK,
        steps: config.explain.steps,
        batchSize: config.explain.batchSize,
        clusterLabels: config.clusterLabels,
        descriptions: config.descriptions,
        missing: config.missing,
        shares: config.shares,
        holderMedians: scorer.holderMedians,
        tagNames: config.tagNames,
      },
    );
    explanations = explained.map((e, i) => {
      const label = config.clusterLabels[assignment.clusters[decisions[i]!.row]!]!;
      // No direction (the contribution's sign) and no summary sentence (the texts joined): both
      // are derived when a suggestion is read, and were a third of every stored row.
      const contributions = e.contributions.map((c) => ({
        feature: c.feature,
        contribution: rounded(c.contribution),
        text: c.text,
      }));
      const d = decisions[i]!;
      const evaluation = classifier.meta.evaluations[d.tagIndex]!;
      const precision = precisionAt(evaluation.curve, d.confidence);
      return escapeCopyText(
        JSON.stringify({
          cluster: label,
          contributions,
          ...(precision === null
            ? {}
            : { precision: rounded(precision), precisionEstimated: evaluation.mode === 'PU' }),
        }),
      );
    });
  }

  const { thresholds } = classifier.meta;
  const valueFeature = config.valueFeature;
  let text = '';
  decisions.forEach((d, i) => {
    const row = rows[d.row]!;
    const raw = valueFeature === null ? null : row[valueFeature];
    const value = raw === null || raw === undefined || raw === '' ? NaN : Number(raw);
    text +=
      `${customerIds[d.row]}\t${config.tagIds[d.tagIndex]}\t${number(d.confidence)}\t` +
      `${number(thresholds[d.tagIndex]!)}\t${config.clusterIds[assignment.clusters[d.row]!]}\t` +
      `${Number.isFinite(value) ? number(value) : '\\N'}\t${explanations ? explanations[i] : '\\N'}\n`;
  });
  return {
    text,
    candidates: decisions.length,
    scoreMs: scored - started,
    explainMs: performance.now() - scored,
    scoreCpuMs: cpuBetween(startedCpu, scoredCpu),
    explainCpuMs: cpuBetween(scoredCpu, threadCpuMs()),
  };
}
