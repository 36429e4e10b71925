import type { MikroORM } from '@mikro-orm/postgresql';
import { Router, type Response } from 'express';
import type { AuthService } from '../modules/auth/auth.service.js';
import { DomainError, UnauthenticatedError } from '../modules/common/domain.errors.js';
import { ModelReportService } from '../modules/model-registry/model-report.service.js';
import { RETRY_AFTER_SECONDS } from './http-status.js';

const STATUS: Record<DomainError['kind'], number> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  unauthenticated: 401,
  forbidden: 403,
  unavailable: 503,
};

// The report is static HTML with inline CSS and SVG: nothing else may load or run, even if an
// escaping bug let markup through. no-referrer and no-store keep the signed link out of other
// sites' logs and of shared caches.
const REPORT_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'cache-control': 'private, no-store',
  'x-content-type-options': 'nosniff',
};

const queryText = (value: unknown) => (typeof value === 'string' ? value : undefined);

function refuse(res: Response, error: DomainError): void {
  const status = STATUS[error.kind];
  if (status === 401) res.set('www-authenticate', 'Bearer realm="tagwise"');
  if (status === 503) res.set('retry-after', String(RETRY_AFTER_SECONDS));
  res.status(status).set('cache-control', 'no-store').type('text').send(`${error.message}\n`);
}

/**
 * GET /models/:id/report.html: a model version's training report, for a Bearer key or a signed
 * link from `ModelVersion.reportUrl` (see ModelReportService for who may read it).
 */
export function modelReportRoutes(orm: MikroORM, auth: AuthService): Router {
  const router = Router();
  router.get('/models/:id/report.html', async (req, res) => {
    try {
      const header = req.headers.authorization;
      let viewer = null;
      if (header) {
        const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
        viewer = match ? await auth.authenticate(match[1]!) : null;
        if (!viewer) throw new UnauthenticatedError('The API key is unknown or revoked');
      }
      const file = await new ModelReportService(orm.em.fork()).open(req.params.id, {
        viewer,
        link: {
          key: queryText(req.query.key),
          expires: queryText(req.query.expires),
          signature: queryText(req.query.signature),
        },
      });
      // The path is the registry's, and models live under TAGWISE_DATA_DIR (.data by default):
      // send's default would refuse any path through a dot folder.
      res.set(REPORT_HEADERS).type('html').sendFile(file, { dotfiles: 'allow' });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      refuse(res, error);
    }
  });
  return router;
}
