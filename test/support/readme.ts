import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './processes.js';

/** A fenced code block of README.md, with the heading it sits under. */
export interface ReadmeBlock {
  /** The info string's first word (`graphql`, `sh`, `json`). */
  lang: string;
  /** The info string's other words (`variables`, `synopsis`, `error=CONFLICT`). */
  flags: string[];
  code: string;
  /** 1-based line of the opening fence, for messages that point a reader at the block. */
  line: number;
  /** The nearest heading above it, without its hashes. */
  heading: string;
}

/** README.md's fenced blocks in document order, read from the file itself (never a copy). */
export function readmeBlocks(file = path.join(ROOT, 'README.md')): ReadmeBlock[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const blocks: ReadmeBlock[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const heads = /^#{1,6} (.*)$/.exec(lines[i]!);
    if (heads) heading = heads[1]!.trim();
    const fence = /^```(.*)$/.exec(lines[i]!);
    if (!fence) continue;
    const [lang = '', ...flags] = fence[1]!.trim().split(/\s+/).filter(Boolean);
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i === lines.length) throw new Error(`README.md:${start + 1}: unclosed code block`);
    blocks.push({ lang, flags, code: body.join('\n'), line: start + 1, heading });
  }
  return blocks;
}
