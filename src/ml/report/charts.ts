import { escapeHtml, num } from './html.js';

// Charts are drawn as plain inline SVG rather than through Vega-Lite: a report has two charts per
// tag, and Vega's import (~0.6 s of CPU) and ~20 ms per rendered view would add seconds to every
// training, where these strings take microseconds. No script, no external resource.

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** CSS class of the line (colours live in the report's stylesheet). */
  className: string;
  dashed?: boolean;
  /** Draw a dot at every point, titled with its values. */
  dots?: boolean;
}

export interface LineChartSpec {
  /** The element id, e.g. "pr-curve-3": how readers and tests find a chart. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xDomain: readonly [number, number];
  yDomain: readonly [number, number];
  series: readonly Series[];
  /** One highlighted point (the chosen threshold), with its label. */
  marker?: { x: number; y: number; label: string } | null;
  /** Integer ticks on x (e.g. k of k-means) instead of fractions. */
  integerX?: boolean;
  /** Where the legend goes, inside the plot: a corner the series rarely pass (default bottom). */
  legendAt?: 'top' | 'bottom';
}

const WIDTH = 340;
const HEIGHT = 250;
const MARGIN = { left: 46, right: 14, top: 26, bottom: 42 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

const r1 = (v: number) => Math.round(v * 10) / 10;

function ticks([min, max]: readonly [number, number], integer: boolean): number[] {
  if (integer) {
    const step = Math.max(1, Math.ceil((max - min) / 8));
    const out: number[] = [];
    for (let v = Math.ceil(min); v <= max; v += step) out.push(v);
    return out;
  }
  const span = max - min || 1;
  const raw = span / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

function tickText(v: number): string {
  if (Math.abs(v) >= 10_000) return `${Number((v / 1000).toFixed(1))}k`;
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
}

/** A line chart as an inline `<svg>` element with a title, axes, grid and optional marker. */
export function lineChart(spec: LineChartSpec): string {
  const [x0, x1] = spec.xDomain;
  const [y0, y1] = spec.yDomain;
  const sx = (x: number) => r1(MARGIN.left + ((x - x0) / (x1 - x0 || 1)) * PLOT_W);
  const sy = (y: number) => r1(MARGIN.top + PLOT_H - ((y - y0) / (y1 - y0 || 1)) * PLOT_H);
  const titleId = `${spec.id}-title`;
  const parts: string[] = [
    `<svg id="${escapeHtml(spec.id)}" class="chart" role="img" aria-labelledby="${escapeHtml(titleId)}" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<title id="${escapeHtml(titleId)}">${escapeHtml(spec.title)}</title>`,
    `<text class="chart-title" x="${MARGIN.left}" y="16">${escapeHtml(spec.title)}</text>`,
  ];
  for (const t of ticks(spec.xDomain, spec.integerX ?? false)) {
    const x = sx(t);
    parts.push(
      `<line class="grid" x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + PLOT_H}"/>`,
      `<text class="tick" x="${x}" y="${MARGIN.top + PLOT_H + 14}" text-anchor="middle">${tickText(t)}</text>`,
    );
  }
  for (const t of ticks(spec.yDomain, false)) {
    const y = sy(t);
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + PLOT_W}" y2="${y}"/>`,
      `<text class="tick" x="${MARGIN.left - 6}" y="${r1(y + 3.5)}" text-anchor="end">${tickText(t)}</text>`,
    );
  }
  parts.push(
    `<rect class="frame" x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}"/>`,
    `<text class="axis-label" x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 6}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`,
    `<text class="axis-label" transform="translate(12 ${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`,
  );
  for (const s of spec.series) {
    const points = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (points.length === 0) continue;
    const d = points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x)} ${sy(y)}`).join(' ');
    parts.push(
      `<path class="series ${escapeHtml(s.className)}${s.dashed ? ' dashed' : ''}" d="${d}"><title>${escapeHtml(s.name)}</title></path>`,
    );
    if (s.dots) {
      for (const [x, y] of points) {
        parts.push(
          `<circle class="dot ${escapeHtml(s.className)}" cx="${sx(x)}" cy="${sy(y)}" r="2.5"><title>${escapeHtml(`${s.name}: ${num(x)}, ${num(y)}`)}</title></circle>`,
        );
      }
    }
  }
  const m = spec.marker;
  if (m && Number.isFinite(m.x) && Number.isFinite(m.y)) {
    const x = sx(m.x);
    const y = sy(m.y);
    const anchor = x > MARGIN.left + PLOT_W * 0.6 ? 'end' : 'start';
    // Below the dot when it sits near the top, where the label would meet the title.
    const labelY = y < MARGIN.top + 20 ? y + 16 : y - 7;
    parts.push(
      `<circle class="marker" cx="${x}" cy="${y}" r="4.5"><title>${escapeHtml(m.label)}</title></circle>`,
      `<text class="marker-label" x="${anchor === 'end' ? x - 8 : x + 8}" y="${r1(labelY)}" text-anchor="${anchor}">${escapeHtml(m.label)}</text>`,
    );
  }
  const legend = spec.series.filter((s) => s.points.length > 0);
  if (legend.length > 1) {
    legend.forEach((s, i) => {
      const y =
        spec.legendAt === 'top' ? MARGIN.top + 14 + i * 14 : MARGIN.top + PLOT_H - 8 - i * 14;
      const x = MARGIN.left + 8;
      parts.push(
        `<line class="series ${escapeHtml(s.className)}${s.dashed ? ' dashed' : ''}" x1="${x}" y1="${y - 3}" x2="${x + 16}" y2="${y - 3}"/>`,
        `<text class="legend" x="${x + 20}" y="${y}">${escapeHtml(s.name)}</text>`,
      );
    });
  }
  parts.push('</svg>');
  return parts.join('');
}

export interface Bar {
  label: string;
  value: number;
  /** Shown after the bar, e.g. "412 (21 %)". */
  text: string;
}

/** Horizontal bars, one row per item, as an inline `<svg>` element. */
export function barChart(spec: { id: string; title: string; bars: readonly Bar[] }): string {
  const labelWidth = 230;
  const barWidth = 260;
  const row = 20;
  const top = 26;
  const width = labelWidth + barWidth + 110;
  const height = top + spec.bars.length * row + 8;
  const max = Math.max(1, ...spec.bars.map((b) => b.value));
  const titleId = `${spec.id}-title`;
  const parts = [
    `<svg id="${escapeHtml(spec.id)}" class="chart" role="img" aria-labelledby="${escapeHtml(titleId)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title id="${escapeHtml(titleId)}">${escapeHtml(spec.title)}</title>`,
    `<text class="chart-title" x="0" y="16">${escapeHtml(spec.title)}</text>`,
  ];
  spec.bars.forEach((b, i) => {
    const y = top + i * row;
    const w = r1((Math.max(0, b.value) / max) * barWidth);
    const label = b.label.length > 38 ? `${b.label.slice(0, 37)}…` : b.label;
    parts.push(
      `<text class="bar-label" x="${labelWidth - 6}" y="${y + 13}" text-anchor="end">${escapeHtml(label)}<title>${escapeHtml(b.label)}</title></text>`,
      `<rect class="bar" x="${labelWidth}" y="${y + 3}" width="${w}" height="${row - 6}"/>`,
      `<text class="tick" x="${r1(labelWidth + w + 6)}" y="${y + 13}">${escapeHtml(b.text)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
