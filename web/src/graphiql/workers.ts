// GraphiQL's editor (Monaco) runs its language services in web workers. graphiql ships this setup
// as `graphiql/setup-workers/vite`, but imported from a dependency the `?worker` imports defeat
// Vite's dev-time dependency optimizer (npm run dev fails); from our own source both the dev
// server and the build bundle each worker as a file of this server's.
import type { Environment } from 'monaco-editor';
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker.js?worker';
import JsonWorker from 'monaco-editor/esm/vs/language/json/json.worker.js?worker';
import GraphQLWorker from 'monaco-graphql/esm/graphql.worker.js?worker';

const environment: Environment = {
  getWorker(_workerId: string, label: string) {
    if (label === 'json') return new JsonWorker();
    if (label === 'graphql') return new GraphQLWorker();
    return new EditorWorker();
  },
};
window.MonacoEnvironment = environment;
