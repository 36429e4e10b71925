import type { TagEvaluation } from '../classifier/index.js';
import type { CalibrationBin } from '../metrics.js';
import { barChart, lineChart } from './charts.js';
import { count, escapeHtml, num, percent } from './html.js';
import type { DistinctiveColumn } from './segments.js';

/** Fewer held-out known labels than this, or no positive or no negative among them: no calibration curve. */
const MIN_CALIBRATION_LABELS = 20;

export interface ReportCluster {
  index: number;
  label: string;
  size: number;
  fraction: number;
  medians: Readonly<Record<string, number | null>>;
  topCategories: readonly { category: string; share: number; lift: number }[];
  /** Null when not at hand (a report regenerated from the registry). */
  distinctive: readonly DistinctiveColumn[] | null;
}

/** Everything a training report shows; plain data, as stored in the registry or just computed. */
export interface TrainingReportInput {
  version: string;
  createdAt: string;
  createdBy: string | null;
  seed: number;
  backend: string;
  data: {
    customers: number;
    featureSetVersion: number;
    features: readonly string[];
    /** Columns the classifier read: scaled features, one-hot categories, cluster distances. */
    inputColumns: number | null;
    rows: { train: number; validation: number; test: number } | null;
    split: { validationFraction: number; testFraction: number } | null;
    epochs: number | null;
    bestEpoch: number | null;
  };
  /** The registry's per-tag evaluations (ModelVersion.metrics.tags), unchanged. */
  evaluations: readonly TagEvaluation[];
  skippedTags: readonly { tag: string; reason: string }[];
  /**
   * Per tag key, reliability bins on held-out known labels (KNOWN tags); null when the held-out
   * scores are not at hand, as for a report regenerated from the registry.
   */
  calibration: Readonly<Record<string, readonly CalibrationBin[]>> | null;
  segments: {
    k: number;
    silhouette: number | null;
    candidates: readonly { k: number; silhouette: number; inertia: number }[];
    clusters: readonly ReportCluster[];
  };
  /** The version ACTIVE when this one was trained, or null when there was none. */
  previous: { id: string; version: string; evaluations: readonly TagEvaluation[] } | null;
  /** A sentence shown under the title, e.g. why the report was regenerated. */
  notice?: string | null;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2433;margin:0;background:#f6f7f9}
main{max-width:1120px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;padding-top:8px;border-top:1px solid #e3e6ec}
h3{font-size:15px;margin:0 0 8px}p{margin:6px 0}
nav a{margin-right:14px;color:#2450a6;text-decoration:none}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e3e6ec;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f1f3f7;font-weight:600}td.n,th.n{text-align:right}
.muted{color:#687086}.why{color:#8a4b00}.ok{color:#1a7f37;font-weight:600}.no{color:#b42318;font-weight:600}
.estimate{font-style:italic}
article.tag{border:1px solid #e3e6ec;border-radius:6px;padding:12px 14px;margin:14px 0}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.chart-slot{width:340px}.numbers{width:380px}
svg.chart{background:#fff}
svg .grid{stroke:#eceef2;stroke-width:1}svg .frame{fill:none;stroke:#c5cad3}
svg .tick,svg .legend{font-size:10px;fill:#687086}svg .axis-label{font-size:11px;fill:#3a4356}
svg .chart-title{font-size:12px;font-weight:600;fill:#1d2433}
svg .series{fill:none;stroke-width:2}svg .dashed{stroke-dasharray:5 4;stroke-width:1.4}
svg .pr{stroke:#2450a6}svg .target{stroke:#b42318}svg .diagonal{stroke:#9aa1ae}
svg .observed{stroke:#7a3fb0}svg .dot.observed{fill:#7a3fb0;stroke:none}
svg .silhouette{stroke:#1a7f37}svg .dot.silhouette{fill:#1a7f37;stroke:none}
svg .inertia{stroke:#8a4b00}svg .dot.inertia{fill:#8a4b00;stroke:none}
svg .marker{fill:#f5a524;stroke:#1d2433;stroke-width:1}svg .marker-label{font-size:10px;fill:#1d2433}
svg .bar{fill:#6b8fd6}svg .bar-label{font-size:11px;fill:#1d2433}
details{margin:6px 0}code{background:#f1f3f7;padding:0 3px;border-radius:3px}
`;

const isPu = (e: TagEvaluation) => e.mode === 'PU';
/** The precision a tag reports: counted (KNOWN) or estimated (PU), never mixed up. */
const reported = (e: TagEvaluation) => (isPu(e) ? e.estimatedPrecision : e.precision);

/** Compact: "~0.903" for an estimate, explained once under the table. */
function precisionCell(e: TagEvaluation, compact = false): string {
  const value = reported(e);
  if (value === null) return '–';
  if (!isPu(e)) return num(value);
  return `<span class="estimate">~${num(value)}${compact ? '' : ' (estimate)'}</span>`;
}

function intervalText(e: TagEvaluation): string {
  return e.precisionInterval
    ? `${num(e.precisionInterval.low)}–${num(e.precisionInterval.high)}`
    : '–';
}

function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  numeric = new Set<number>(),
) {
  const cell = (tag: 'th' | 'td', html: string, i: number) =>
    `<${tag}${numeric.has(i) ? ' class="n"' : ''}>${html}</${tag}>`;
  return (
    `<table>${head.some((h) => h) ? `<thead><tr>${head.map((h, i) => cell('th', h, i)).join('')}</tr></thead>` : ''}<tbody>` +
    rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('') +
    '</tbody></table>'
  );
}

function dataSection(input: TrainingReportInput): string {
  const { data } = input;
  const rows = data.rows;
  const held = rows ? rows.validation + rows.test : null;
  const share = (n: number | undefined) =>
    rows && n !== undefined && data.customers ? ` (${percent(n / data.customers)})` : '';
  const lines: [string, string][] = [
    ['Customers with features', count(data.customers)],
    [
      'Features',
      `${count(data.features.length)} of feature set v${data.featureSetVersion}` +
        (data.inputColumns !== null
          ? `, ${count(data.inputColumns)} input columns to the classifier (scaled features, one-hot categories, distances to the ${input.segments.k} cluster centres)`
          : ''),
    ],
    ['Training rows', rows ? `${count(rows.train)}${share(rows.train)}` : '–'],
    [
      'Validation rows',
      rows
        ? `${count(rows.validation)}${share(rows.validation)}: early stopping, then metrics`
        : '–',
    ],
    [
      'Test rows',
      rows ? `${count(rows.test)}${share(rows.test)}: metrics and thresholds only` : '–',
    ],
    [
      'Held out in all',
      held !== null
        ? `${count(held)} customers the weights never learnt from; every metric below stands on them`
        : '–',
    ],
    [
      'Epochs',
      data.epochs !== null
        ? `${data.epochs}, weights of the best validation epoch (${data.bestEpoch ?? '–'}) kept`
        : '–',
    ],
    ['Seed, backend', `${input.seed}, ${escapeHtml(input.backend)}`],
  ];
  return (
    `<section id="data"><h2>Data</h2>` +
    table(
      ['', ''],
      lines.map(([k, v]) => [escapeHtml(k), v]),
    ) +
    `<details><summary>The ${data.features.length} features</summary><p>${data.features.map((f) => `<code>${escapeHtml(f)}</code>`).join(' ')}</p></details>` +
    (input.skippedTags.length
      ? `<p>Not learnt: ${input.skippedTags.map((s) => `<strong>${escapeHtml(s.tag)}</strong> (${escapeHtml(s.reason)})`).join('; ')}.</p>`
      : '') +
    '</section>'
  );
}

function labelsSection(input: TrainingReportInput): string {
  const rows = input.evaluations.map((e) => [
    escapeHtml(e.tag),
    e.mode,
    count(e.positives),
    count(e.negatives),
    count(e.unlabelled),
    count(e.heldOut.customers),
    count(e.heldOut.positives),
    count(e.heldOut.negatives),
  ]);
  return (
    `<section id="labels"><h2>Labels per tag</h2>` +
    `<p>Positives hold the tag as a label; known negatives are known not to hold it (another tag of an exclusive category, a complete import, a reviewer's rejection); everyone else is unlabelled, not a negative. A tag with enough known negatives is learnt and measured on known labels (KNOWN); otherwise from positive and unlabelled customers (PU), and its precision is an estimate.</p>` +
    table(
      [
        'Tag',
        'Mode',
        'Positives',
        'Known negatives',
        'Unlabelled',
        'Held out',
        'of them positive',
        'of them negative',
      ],
      rows,
      new Set([2, 3, 4, 5, 6, 7]),
    ) +
    '</section>'
  );
}

function prChart(e: TagEvaluation, i: number): string {
  if (e.curve.length === 0) {
    return `<p class="why">No precision–recall curve: ${escapeHtml(e.reason ?? 'no held-out customers to draw it from')}.</p>`;
  }
  const precision = reported(e);
  const yLabel = isPu(e) ? 'estimated precision' : 'precision';
  return lineChart({
    id: `pr-curve-${i}`,
    title: `${e.tag}: precision–recall`,
    xLabel: isPu(e) ? 'recall of labelled holders' : 'recall',
    yLabel,
    xDomain: [0, 1],
    yDomain: [0, 1],
    series: [
      { name: yLabel, points: e.curve.map((p) => [p.recall, p.precision]), className: 'pr' },
      {
        name: `target ${e.targetPrecision}`,
        points: [
          [0, e.targetPrecision],
          [1, e.targetPrecision],
        ],
        className: 'target',
        dashed: true,
      },
    ],
    marker:
      e.confident && e.threshold !== null && e.recall !== null && precision !== null
        ? { x: e.recall, y: precision, label: `threshold ${num(e.threshold)}` }
        : null,
  });
}

function calibrationChart(
  e: TagEvaluation,
  i: number,
  calibration: TrainingReportInput['calibration'],
): string {
  const why = (text: string) => `<p class="why">No calibration curve: ${text}.</p>`;
  if (isPu(e)) {
    return why(
      'a PU tag has no held-out customers known not to hold it, so scores cannot be checked against outcomes (they rank customers; precision above is estimated through the label frequency)',
    );
  }
  if (!calibration) return why('the held-out scores were not kept with this version');
  const bins = calibration[e.tag] ?? [];
  const labels = bins.reduce((n, b) => n + b.count, 0);
  const positives = bins.reduce((n, b) => n + b.count * b.positiveRate, 0);
  if (labels < MIN_CALIBRATION_LABELS || positives < 0.5 || labels - positives < 0.5) {
    return why(
      `${labels} held-out known label(s), ${Math.round(positives)} positive; a curve needs at least ${MIN_CALIBRATION_LABELS} with both outcomes`,
    );
  }
  return lineChart({
    id: `calibration-${i}`,
    title: `${e.tag}: calibration (${labels} known labels)`,
    xLabel: 'mean predicted probability (10 bins)',
    legendAt: 'top',
    yLabel: 'share positive',
    xDomain: [0, 1],
    yDomain: [0, 1],
    series: [
      {
        name: 'perfectly calibrated',
        points: [
          [0, 0],
          [1, 1],
        ],
        className: 'diagonal',
        dashed: true,
      },
      {
        name: 'observed',
        points: bins.map((b) => [b.meanScore, b.positiveRate]),
        className: 'observed',
        dots: true,
      },
    ],
  });
}

function metricsRows(e: TagEvaluation): [string, string][] {
  const rows: [string, string][] = [
    [
      'Mode',
      e.mode === 'KNOWN'
        ? 'KNOWN: learnt and measured on known labels'
        : 'PU: learnt from positive and unlabelled customers; precision estimated',
    ],
    ['Threshold', e.threshold !== null ? num(e.threshold) : 'none'],
    [isPu(e) ? 'Estimated precision' : 'Precision', precisionCell(e)],
    ['90 % interval', intervalText(e)],
    ['Recall', num(e.recall)],
    ['F1', num(e.f1)],
  ];
  if (isPu(e)) {
    rows.push([
      'Estimated ROC AUC',
      e.estimatedRocAuc !== null
        ? `<span class="estimate">~${num(e.estimatedRocAuc)} (estimate)</span>`
        : '–',
    ]);
    if (e.labelFrequency) {
      rows.push([
        'Label frequency c',
        `${num(e.labelFrequency.value)} (${num(e.labelFrequency.interval.low)}–${num(e.labelFrequency.interval.high)})` +
          (e.labelFrequency.pooledOver
            ? `, pooled over ${e.labelFrequency.pooledOver.map(escapeHtml).join(', ')}`
            : ''),
      ]);
    }
  } else {
    rows.push(['ROC AUC', num(e.rocAuc)], ['PR AUC (average precision)', num(e.prAuc)]);
  }
  rows.push([
    'Suggested at the threshold',
    e.flagged !== null
      ? `${count(e.flagged)} held-out customers, ${count(e.positivesFlagged)} of them ${isPu(e) ? 'labelled holders' : 'known positives'}`
      : '–',
  ]);
  return rows;
}

function metricsSection(input: TrainingReportInput): string {
  const articles = input.evaluations.map(
    (e, i) =>
      `<article class="tag" id="tag-${i}" data-tag="${escapeHtml(e.tag)}">` +
      `<h3>${escapeHtml(e.tag)} ${e.confident ? '<span class="ok">confident</span>' : '<span class="no">not confident</span>'}</h3>` +
      `<div class="charts"><div class="numbers">${table(
        ['', ''],
        metricsRows(e).map(([k, v]) => [escapeHtml(k), v]),
      )}</div>` +
      `<div class="chart-slot">${prChart(e, i)}</div>` +
      `<div class="chart-slot">${calibrationChart(e, i, input.calibration)}</div></div>` +
      `<p><strong>How measured:</strong> ${escapeHtml(e.method || '–')}</p>` +
      (e.note ? `<p><strong>Note:</strong> ${escapeHtml(e.note)}</p>` : '') +
      '</article>',
  );
  return (
    `<section id="metrics"><h2>Per-tag metrics</h2>` +
    `<p>On held-out customers only, every count one customer. KNOWN tags report counted precision; PU tags report an <span class="estimate">estimated</span> precision (label-frequency method, assuming holders were labelled at random) and never a plain one. These are the numbers the model registry stores for this version (<code>ModelVersion.tagEvaluations</code>). The precision–recall curve is of suggestions as a scoring run makes them; the dot is the chosen threshold, the dashed line the target precision.</p>` +
    articles.join('') +
    '</section>'
  );
}

function thresholdReason(e: TagEvaluation): string {
  if (!e.confident || e.threshold === null) return escapeHtml(e.reason ?? 'no threshold');
  const precision = reported(e);
  return (
    `lowest threshold whose ${isPu(e) ? 'estimated ' : ''}precision (${num(precision)}) reaches the target ${e.targetPrecision}` +
    (e.flagged !== null
      ? ` with ${count(e.positivesFlagged)} of ${count(e.flagged)} suggested held-out customers ${isPu(e) ? 'labelled holders' : 'positive'}`
      : '') +
    `; recall ${num(e.recall)}`
  );
}

function thresholdsSection(input: TrainingReportInput): string {
  const rows = input.evaluations.map((e) => [
    escapeHtml(e.tag),
    num(e.targetPrecision, 2),
    e.threshold !== null ? num(e.threshold) : 'none',
    e.confident ? '<span class="ok">yes</span>' : '<span class="no">no</span>',
    thresholdReason(e),
  ]);
  const confident = input.evaluations.filter((e) => e.confident).length;
  return (
    `<section id="thresholds"><h2>Thresholds</h2>` +
    `<p>${confident} of ${input.evaluations.length} tags are confident: suggested at or above their threshold. A tag without one is never suggested by this version; the reason says what would change that.</p>` +
    table(['Tag', 'Target precision', 'Threshold', 'Confident', 'Why'], rows, new Set([1, 2])) +
    '</section>'
  );
}

const MEDIAN_COLUMNS: [string, string][] = [
  ['days_since_last_purchase', 'days since purchase'],
  ['purchases_365d', 'purchases / year'],
  ['spend_365d', 'spend / year'],
];

function segmentsSection(input: TrainingReportInput): string {
  const s = input.segments;
  const candidates = [...s.candidates].sort((a, b) => a.k - b.k);
  const charts: string[] = [];
  if (candidates.length > 1) {
    const ks = candidates.map((c) => c.k);
    const silhouettes = candidates.map((c) => c.silhouette);
    charts.push(
      lineChart({
        id: 'silhouette-by-k',
        title: 'Silhouette by k (highest wins)',
        xLabel: 'k',
        yLabel: 'silhouette',
        xDomain: [Math.min(...ks), Math.max(...ks)],
        yDomain: [Math.min(0, ...silhouettes), Math.max(0.1, ...silhouettes) * 1.1],
        integerX: true,
        series: [
          {
            name: 'silhouette',
            points: candidates.map((c) => [c.k, c.silhouette]),
            className: 'silhouette',
            dots: true,
          },
        ],
        marker: s.silhouette !== null ? { x: s.k, y: s.silhouette, label: `k = ${s.k}` } : null,
      }),
      lineChart({
        id: 'inertia-by-k',
        title: 'Inertia by k (fit sample)',
        xLabel: 'k',
        yLabel: 'inertia',
        xDomain: [Math.min(...ks), Math.max(...ks)],
        yDomain: [0, Math.max(1, ...candidates.map((c) => c.inertia)) * 1.05],
        integerX: true,
        series: [
          {
            name: 'inertia',
            points: candidates.map((c) => [c.k, c.inertia]),
            className: 'inertia',
            dots: true,
          },
        ],
      }),
    );
  }
  charts.push(
    barChart({
      id: 'cluster-sizes',
      title: 'Customers per cluster',
      bars: s.clusters.map((c) => ({
        label: `${c.index + 1}. ${c.label}`,
        value: c.size,
        text: `${count(c.size)} (${percent(c.fraction)})`,
      })),
    }),
  );
  const present = MEDIAN_COLUMNS.filter(([name]) => s.clusters.some((c) => name in c.medians));
  const rows = s.clusters.map((c) => [
    String(c.index + 1),
    escapeHtml(c.label),
    count(c.size),
    percent(c.fraction),
    ...present.map(([name]) => num(c.medians[name], name === 'spend_365d' ? 0 : 1)),
    c.topCategories.length
      ? c.topCategories
          .map((t) => `${escapeHtml(t.category)} ${percent(t.share)} (×${num(t.lift, 1)})`)
          .join(', ')
      : '–',
    c.distinctive === null
      ? '<span class="muted">not kept</span>'
      : c.distinctive.length
        ? c.distinctive
            .map(
              (d) => `${escapeHtml(d.column)} ${d.z >= 0 ? '+' : '−'}${num(Math.abs(d.z), 1)} sd`,
            )
            .join(', ')
        : '–',
  ]);
  return (
    `<section id="segments"><h2>Segmentation</h2>` +
    `<p>k-means on the scaled features: k = ${s.k}${s.silhouette !== null ? `, silhouette ${num(s.silhouette)}` : ''}${candidates.length > 1 ? `, chosen from k = ${candidates[0]!.k}–${candidates.at(-1)!.k} by silhouette` : ''}. Each customer's distances to the cluster centres are inputs to the classifier.</p>` +
    `<div class="charts">${charts.join('')}</div>` +
    table(
      [
        '#',
        'Label',
        'Customers',
        'Share',
        ...present.map(([, title]) => `Median ${title}`),
        'Top spend categories (share, lift)',
        'Top features (cluster mean vs everyone, in sd)',
      ],
      rows,
      new Set([0, 2, 3, ...present.map((_, i) => 4 + i)]),
    ) +
    '</section>'
  );
}

function comparisonSection(input: TrainingReportInput): string {
  const head = '<section id="comparison"><h2>Comparison with the active version</h2>';
  if (!input.previous) {
    return `${head}<p>none: no version was ACTIVE when this one was trained.</p></section>`;
  }
  const prev = input.previous;
  const before = new Map(prev.evaluations.map((e) => [e.tag, e]));
  const tags = [
    ...input.evaluations.map((e) => e.tag),
    ...prev.evaluations
      .map((e) => e.tag)
      .filter((t) => !input.evaluations.some((e) => e.tag === t)),
  ];
  const now = new Map(input.evaluations.map((e) => [e.tag, e]));
  const side = (e: TagEvaluation | undefined) =>
    e
      ? [
          e.mode,
          precisionCell(e, true),
          num(e.recall),
          isPu(e) ? `<span class="estimate">~${num(e.estimatedRocAuc)}</span>` : num(e.rocAuc),
          e.confident ? '<span class="ok">yes</span>' : '<span class="no">no</span>',
        ]
      : ['<span class="muted">not learnt</span>', '', '', '', ''];
  const rows = tags.map((tag) => {
    const a = before.get(tag);
    const b = now.get(tag);
    const pa = a ? reported(a) : null;
    const pb = b ? reported(b) : null;
    const change =
      a && b && a.mode === b.mode && pa !== null && pb !== null
        ? `${pb - pa >= 0 ? '+' : '−'}${num(Math.abs(pb - pa))}`
        : '–';
    return [escapeHtml(tag), ...side(b), ...side(a), change];
  });
  return (
    head +
    `<p>This version beside <strong>${escapeHtml(prev.version)}</strong> (id ${escapeHtml(prev.id)}), ACTIVE when this one was trained. Each column is its version's own held-out measurement, on its own held-out customers and the labels known then; <code>tagwise models compare ${escapeHtml(prev.id)} &lt;this id&gt;</code> scores both on the customers both held out, against the labels known now. A counted and an estimated precision are not subtracted.</p>` +
    table(
      [
        'Tag',
        'Mode',
        'Precision',
        'Recall',
        'ROC AUC',
        'Confident',
        'Mode (active)',
        'Precision (active)',
        'Recall (active)',
        'ROC AUC (active)',
        'Confident (active)',
        'Precision change',
      ],
      rows,
      new Set([2, 3, 4, 7, 8, 9, 11]),
    ) +
    '<p class="muted">~ marks an estimate from positive and unlabelled customers (PU).</p>' +
    '</section>'
  );
}

/**
 * The training report of one model version as a self-contained HTML page: inline CSS and SVG,
 * no script, no external resource. Every string from the data is escaped.
 */
export function renderTrainingReport(input: TrainingReportInput): string {
  const confident = input.evaluations.filter((e) => e.confident).length;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Training report: ${escapeHtml(input.version)}</title>`,
    `<style>${STYLE}</style></head><body><main>`,
    `<h1>Training report: model ${escapeHtml(input.version)}</h1>`,
    `<p class="muted">Trained ${escapeHtml(input.createdAt)}${input.createdBy ? ` by ${escapeHtml(input.createdBy)}` : ''}; ${count(input.data.customers)} customers; ${confident} of ${input.evaluations.length} tags confident; ${input.segments.k} segments.</p>`,
    input.notice ? `<p class="why">${escapeHtml(input.notice)}</p>` : '',
    '<nav><a href="#data">Data</a><a href="#labels">Labels</a><a href="#metrics">Metrics</a><a href="#thresholds">Thresholds</a><a href="#segments">Segmentation</a><a href="#comparison">Comparison</a></nav>',
    dataSection(input),
    labelsSection(input),
    metricsSection(input),
    thresholdsSection(input),
    segmentsSection(input),
    comparisonSection(input),
    '</main></body></html>',
    '',
  ].join('\n');
}
