// A worker thread starts as plain Node — without vitest's transform or, once the pool drops the
// parent's preloads, SWC — so it registers TypeScript itself before loading the worker module.
import '../../../bin/register.js';

await import('./scoring.worker.ts');
