// Module hooks that run the TypeScript sources: SWC strips the types and emits decorator metadata
// (type-graphql and MikroORM read it), with the options @swc-node/register derived from
// tsconfig.json. @swc-node/register itself loaded the TypeScript compiler and a resolver into the
// hooks thread first: about a second of CPU before every process's first file.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { URL, fileURLToPath } from 'node:url';
import { transform } from '@swc/core';

export async function resolve(specifier, context, next) {
  // Sources import each other as `./x.js` (NodeNext style); the file on disk is `./x.ts`.
  if (
    specifier.startsWith('.') &&
    specifier.endsWith('.js') &&
    context.parentURL?.endsWith('.ts')
  ) {
    const url = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(url))) return next(url.href.replace(/\.js$/, '.ts'), context);
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const filename = fileURLToPath(url);
  const { code } = await transform(await readFile(filename, 'utf8'), {
    filename,
    swcrc: false,
    isModule: true,
    module: { type: 'es6' },
    sourceMaps: 'inline',
    inlineSourcesContent: true,
    jsc: {
      target: 'es2022',
      keepClassNames: true,
      parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
      transform: {
        legacyDecorator: true,
        decoratorMetadata: true,
        // tsconfig's target ES2022 implies it, as in tsc.
        useDefineForClassFields: true,
      },
      experimental: { keepImportAttributes: true },
    },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
