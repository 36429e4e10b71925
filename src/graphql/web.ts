import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type RequestHandler, type Router } from 'express';
import expressStaticGzip from 'express-static-gzip';
import type { Logger } from '../config/logger.js';

const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const DIST = path.join(WEB_ROOT, 'dist');

/** Paths the API answers itself; the console's history fallback never takes them. */
const API_PATHS = /^\/(graphql|health|metrics)(\/|$)/;

export interface WebRoutes {
  /** GraphiQL for a browser's GET /graphql; mounted before the GraphQL handler. */
  ide: Router;
  /** The console's files and its pages' history fallback; mounted after everything else. */
  console: Router;
  close(): Promise<void>;
}

interface DevServer {
  middlewares: RequestHandler;
  transformIndexHtml(url: string, html: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The review console and GraphiQL, both single pages over the public API. Built (`npm run
 * build:web`, run by `npm install`) they come from web/dist with every asset they load; with
 * `dev`, Vite serves web/ with hot reload. Neither page needs a network beyond this server.
 */
export async function createWebRoutes(options: {
  console: boolean;
  graphiql: boolean;
  dev: boolean;
  logger: Logger;
}): Promise<WebRoutes> {
  const ide = express.Router();
  const consoleRouter = express.Router();
  if (!options.console && !options.graphiql) return { ide, console: consoleRouter, close: noop };

  let vite: DevServer | null = null;
  let page: (name: 'index' | 'graphiql', req: Request) => Promise<string | null>;
  if (options.dev) {
    // Loaded only here: Vite is a development dependency, and production never runs this branch.
    const { createServer } = await import('vite');
    vite = await createServer({
      configFile: path.join(WEB_ROOT, 'vite.config.ts'),
      server: { middlewareMode: true },
      appType: 'custom',
    });
    const dev = vite;
    page = async (name, req) =>
      dev.transformIndexHtml(
        req.originalUrl,
        await fs.promises.readFile(path.join(WEB_ROOT, `${name}.html`), 'utf8'),
      );
  } else {
    page = async (name) => {
      try {
        return await fs.promises.readFile(path.join(DIST, `${name}.html`), 'utf8');
      } catch {
        return null;
      }
    };
    if (!fs.existsSync(path.join(DIST, 'index.html'))) {
      options.logger.warn(
        { dir: DIST },
        'the console and GraphiQL are not built: run `npm run build:web` (npm install runs it)',
      );
    }
  }

  const sendPage = (name: 'index' | 'graphiql'): RequestHandler =>
    async function servePage(req, res, next) {
      try {
        const html = await page(name, req);
        if (html === null) {
          res
            .status(503)
            .type('text/plain')
            .send('The console is not built: run `npm run build:web`, then reload.\n');
          return;
        }
        // The page names its hashed assets; a cached page would keep asking for old ones.
        res.set('Cache-Control', 'no-cache').type('html').send(html);
      } catch (error) {
        next(error);
      }
    };

  // Middleware, not router.get(): a route also answers OPTIONS itself (Express's automatic 200
  // with Allow), which would take CORS preflights of /graphql from the API.
  if (options.graphiql) {
    // A browser's navigation (Accept: text/html first) gets the IDE; API clients' GETs
    // (?query=…, JSON accepted) fall through to the GraphQL handler as before.
    ide.use((req, res, next) => {
      const navigation = req.method === 'GET' && req.path === '/graphql';
      if (navigation && req.query.query === undefined && prefersHtml(req)) {
        void sendPage('graphiql')(req, res, next);
      } else next();
    });
  }

  const assets: RequestHandler[] = vite
    ? [vite.middlewares]
    : [
        // The build wrote brotli and gzip copies beside each asset (vite.config.ts): the best one
        // the browser accepts is sent as it is, so the API process never compresses per request.
        expressStaticGzip(DIST, {
          index: false,
          enableBrotli: true,
          orderPreference: ['br'],
          serveStatic: {
            index: false,
            // Vite names assets by their content hash: a changed file is a new name.
            immutable: true,
            maxAge: '365d',
            fallthrough: true,
          },
        }),
      ];
  if (options.console || options.graphiql) consoleRouter.use(...assets);
  if (options.console) {
    // Client-side routes (/queue, /customers/12) load the same page, which reads the address.
    consoleRouter.use((req, res, next) => {
      if (req.method !== 'GET' || API_PATHS.test(req.path) || !prefersHtml(req)) next();
      else void sendPage('index')(req, res, next);
    });
  }
  return { ide, console: consoleRouter, close: vite ? () => vite.close() : noop };
}

function prefersHtml(req: Request): boolean {
  return req.accepts(['application/json', 'text/html']) === 'text/html';
}

async function noop(): Promise<void> {}
