// A worker thread starts as plain Node — without vitest's transform or the parent's loader — so
// it registers a TypeScript loader of its own before loading the worker module.
import { register } from 'node:module';

register('./ts-hooks.js', import.meta.url);
await import('./scoring.worker.ts');
