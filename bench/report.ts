import fs from 'node:fs/promises';
import { format, resolveConfig } from 'prettier';
import type { Measurement } from './load.js';

export const BENCHMARKS_PREAMBLE = `# Benchmarks

\`npm run bench\` runs everything under \`bench/\` and rewrites the sections below with its numbers.
`;

function fixed(n: number, digits: number): string {
  return n.toFixed(digits);
}

export function resultsTable(rows: Measurement[]): string {
  const lines = [
    '| query | req/s | p50 ms | p99 ms | errors | idle ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (m) =>
        `| ${m.name} | ${fixed(m.requestsPerSecond, 1)} | ${fixed(m.p50, 1)} | ${fixed(m.p99, 1)} | ` +
        `${m.errors} | ${fixed(m.idleMs, 1)} |`,
    ),
  ];
  return lines.join('\n');
}

/** Cores each party used while a query was measured, and the CPU per request of the API and DB. */
export function cpuTable(rows: Measurement[]): string | null {
  if (rows.some((m) => m.cpu === null)) return null;
  const perRequest = (cores: number, m: Measurement) =>
    m.requestsPerSecond > 0 ? fixed((cores * 1000) / m.requestsPerSecond, 2) : '–';
  const lines = [
    '| query | API cores | PostgreSQL cores | autocannon cores | other processes | API ms/req | PostgreSQL ms/req |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((m) => {
      const c = m.cpu!;
      return (
        `| ${m.name} | ${fixed(c.api, 2)} | ${fixed(c.postgres, 2)} | ${fixed(c.bench, 2)} | ` +
        `${fixed(c.other, 2)} | ${perRequest(c.api, m)} | ${perRequest(c.postgres, m)} |`
      );
    }),
  ];
  return lines.join('\n');
}

/**
 * Replaces the section from `heading` up to the next `## ` heading (or the end), appending it
 * when it is not there yet, so other benchmarks' sections survive a re-run.
 */
export async function writeSection(file: string, heading: string, body: string): Promise<void> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    text = BENCHMARKS_PREAMBLE;
  }
  const section = `${heading}\n\n${body.trim()}\n`;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  let next: string;
  if (start === -1) {
    next = `${text.trimEnd()}\n\n${section}`;
  } else {
    let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
    if (end === -1) end = lines.length;
    const before = lines.slice(0, start).join('\n').trimEnd();
    const after = lines.slice(end).join('\n').trim();
    next = `${before}\n\n${section}${after ? `\n${after}\n` : ''}`;
  }
  // Formatted as `npm run check:format` expects, so a re-run leaves no formatting diff.
  const options = (await resolveConfig(file)) ?? {};
  await fs.writeFile(file, await format(next, { ...options, filepath: file }));
}
