// `node --import ./bin/register.js file.ts`: TypeScript through SWC, decorator metadata included.
import { register } from 'node:module';

register('./ts-hooks.js', import.meta.url);
