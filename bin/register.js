// `node --import ./bin/register.js file.ts`: TypeScript through SWC, decorator metadata included.
import { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.SWC_NODE_PROJECT ??= path.join(root, 'tsconfig.json');
register('@swc-node/register/esm', import.meta.url);
