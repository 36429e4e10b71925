import path from 'node:path';
import { constants } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { compression, defineAlgorithm } from 'vite-plugin-compression2';

const root = path.dirname(fileURLToPath(import.meta.url));

// Two pages: the review console at / and GraphiQL, which the API serves at GET /graphql. Both are
// built into web/dist with everything they load (GraphiQL's editor and its workers included), so
// nothing is fetched from another host.
export default defineConfig({
  root,
  base: '/',
  // Brotli and gzip copies of every asset, made once here; the API serves them as they are
  // (GraphiQL: 6.5 MB → under 2 MB gzipped), never compressing on its event loop.
  // Brotli at quality 9, not 11: measured on these assets, 1.92 MB instead of 1.77 MB in 6.9 s
  // instead of 33.8 s of CPU.
  plugins: [
    react(),
    compression({
      algorithms: [
        defineAlgorithm('brotliCompress', { params: { [constants.BROTLI_PARAM_QUALITY]: 9 } }),
        'gzip',
      ],
      threshold: 1024,
    }),
  ],
  build: {
    outDir: path.join(root, 'dist'),
    emptyOutDir: true,
    // GraphiQL's editor is one large chunk by nature; the console's own chunk is what stays small.
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // GraphiQL's modules open with React Compiler directives ("use no memo") that bundling
      // drops, harmlessly; a warning per module would bury the ones that matter.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
      input: {
        console: path.join(root, 'index.html'),
        graphiql: path.join(root, 'graphiql.html'),
      },
    },
  },
  worker: { format: 'es' },
});
