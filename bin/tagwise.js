#!/usr/bin/env node
// Runs the TypeScript CLI straight from src/, so `npx tagwise` works from a fresh clone.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import './register.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { runCli } = await import(pathToFileURL(path.join(root, 'src/cli/index.ts')).href);
await runCli(process.argv);
