import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kind, parse, print, type DefinitionNode, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { readmeBlocks, type ReadmeBlock } from '../support/readme.js';

/*
 * Every ```graphql block of README.md runs here, in document order, against one fresh demo (what
 * `npm start` generates on its first start, smaller), as an ADMIN key with PII — the key README's
 * "Examples" tells a reader to make. README's conventions, which this file is the reader of:
 *
 * - A block may hold several operations; each is named, and they run one by one in order (as a
 *   reader picks them in an IDE).
 * - A ```json variables block right after a ```graphql block (the next fenced block) gives the
 *   variables of that block's operations; each operation gets those it declares. A string value
 *   "<from Operation: path>" stands for the value at that dotted path (array indexes as numbers)
 *   in the data of the earlier operation of that name: ids are looked up by key in the flow.
 *   "<now>" stands for the current time (an event a trigger's "within 7d" must see).
 * - ```graphql error=CODE marks a block whose one operation must fail with that code.
 *
 * Any other outcome — an error, a null root field, a reference that finds nothing — fails.
 */

interface Example {
  name: string;
  document: string;
  line: number;
  variableNames: string[];
  variables: Record<string, unknown>;
  expectedError: string | undefined;
}

const REFERENCE = /^<from (\w+): ([\w.]+)>$/;

function examplesOf(blocks: ReadmeBlock[]): Example[] {
  const examples: Example[] = [];
  blocks.forEach((block, i) => {
    if (block.lang === 'json' && block.flags.includes('variables')) {
      if (blocks[i - 1]?.lang !== 'graphql') {
        throw new Error(`README.md:${block.line}: a variables block must follow a graphql block`);
      }
      return;
    }
    if (block.lang !== 'graphql') return;
    const next = blocks[i + 1];
    const variables =
      next?.lang === 'json' && next.flags.includes('variables')
        ? (JSON.parse(next.code) as Record<string, unknown>)
        : {};
    const errorFlag = block.flags.find((f) => f.startsWith('error='));
    const definitions = parse(block.code).definitions;
    const fragments = definitions.filter((d) => d.kind !== Kind.OPERATION_DEFINITION);
    const operations = definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    if (errorFlag && operations.length !== 1) {
      throw new Error(`README.md:${block.line}: an error= block holds exactly one operation`);
    }
    for (const operation of operations) {
      if (!operation.name) {
        throw new Error(`README.md:${block.line}: every example operation needs a name`);
      }
      examples.push({
        name: operation.name.value,
        document: [operation, ...fragments].map((d: DefinitionNode) => print(d)).join('\n\n'),
        line: block.line,
        variableNames: (operation.variableDefinitions ?? []).map((v) => v.variable.name.value),
        variables,
        expectedError: errorFlag?.slice('error='.length),
      });
    }
  });
  return examples;
}

/** The value a "<from Operation: path>" names, or a message saying why there is none. */
function resolve(value: unknown, results: Map<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, results));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, results)]));
  }
  if (value === '<now>') return new Date().toISOString();
  const reference = typeof value === 'string' ? REFERENCE.exec(value) : null;
  if (!reference) return value;
  const [, operation, dotted] = reference;
  if (!results.has(operation!)) throw new Error(`${value}: no earlier operation ${operation}`);
  let found = results.get(operation!);
  for (const step of dotted!.split('.')) {
    found = (found as Record<string, unknown> | null | undefined)?.[step];
  }
  if (found === undefined || found === null) throw new Error(`${value}: nothing there`);
  return found;
}

describe('README examples', () => {
  const examples = examplesOf(readmeBlocks());
  const results = new Map<string, unknown>();
  let t: TestApp;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-readme-'));
    t = await createTestApp({
      TAGWISE_DEMO: '1',
      TAGWISE_DEMO_CUSTOMERS: '1500',
      TAGWISE_DATA_DIR: dataDir,
      TAGWISE_MODELS_DIR: path.join(dataDir, 'models'),
    });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('are named once each', () => {
    const names = examples.map((e) => e.name);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  for (const example of examples) {
    it(`${example.name} (README.md:${example.line})`, async () => {
      const variables = Object.fromEntries(
        example.variableNames
          .filter((name) => name in example.variables)
          .map((name) => [name, resolve(example.variables[name], results)]),
      );
      const result = await t.gql(example.document, variables);
      if (example.expectedError) {
        expect(result.errors?.map((e) => e.extensions?.code)).toEqual([example.expectedError]);
        return;
      }
      expect(result.errors ?? []).toEqual([]);
      expect(result.data).toBeTruthy();
      for (const [field, value] of Object.entries(result.data!)) {
        expect(value, `${example.name}: ${field}`).not.toBeNull();
      }
      results.set(example.name, result.data);
    });
  }
});
