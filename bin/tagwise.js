#!/usr/bin/env node
// Runs the TypeScript CLI straight from src/ through SWC (decorator metadata included), so
// `npx tagwise` works from a fresh clone without a build step.
import { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.SWC_NODE_PROJECT ??= path.join(root, 'tsconfig.json');
register('@swc-node/register/esm', import.meta.url);
const { runCli } = await import(pathToFileURL(path.join(root, 'src/cli/index.ts')).href);
await runCli(process.argv);
