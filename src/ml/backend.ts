import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

/** TF.js backends in order of preference; 'tensorflow' is the native one from tfjs-node. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendOptions {
  /** Tried in order; the first that initialises is used. */
  preferred: readonly BackendName[];
}

export const DEFAULT_BACKEND_OPTIONS: BackendOptions = {
  preferred: ['tensorflow', 'wasm', 'cpu'],
};

// A variable specifier, so neither TypeScript nor a bundler insists on the optional package.
const TFJS_NODE = '@tensorflow/tfjs-node';

async function register(name: BackendName): Promise<boolean> {
  if (name === 'tensorflow') {
    try {
      // tfjs-node is an optional dependency whose install downloads libtensorflow; when that
      // failed the package is absent or its native binding throws on import.
      await import(TFJS_NODE);
    } catch {
      return false;
    }
  }
  if (name === 'wasm') {
    // The .wasm binaries ship in the package's dist/ folder; pointing at them on disk keeps the
    // backend from fetching anything at run time.
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    setWasmPaths(path.dirname(entry) + path.sep);
  }
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

let selected: Promise<BackendName> | undefined;

/**
 * Selects the fastest TF.js backend that works here and returns its name, for the caller to log
 * and store with the model. Idempotent: later calls return the first choice.
 */
export function initBackend(options: Partial<BackendOptions> = {}): Promise<BackendName> {
  const o: BackendOptions = { ...DEFAULT_BACKEND_OPTIONS, ...options };
  if (o.preferred.length === 0) throw new RangeError('initBackend: no backend to try');
  selected ??= (async () => {
    // TF.js reports through console.warn (e.g. "install tfjs-node"); the service logs via pino.
    tf.enableProdMode();
    for (const name of o.preferred) {
      if (await register(name)) {
        await tf.ready();
        return name;
      }
    }
    throw new Error(`no TF.js backend could be initialised (tried ${o.preferred.join(', ')})`);
  })();
  return selected;
}
