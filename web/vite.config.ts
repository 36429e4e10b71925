import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

// Two pages: the review console at / and GraphiQL, which the API serves at GET /graphql. Both are
// built into web/dist with everything they load (GraphiQL's editor and its workers included), so
// nothing is fetched from another host.
export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
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
