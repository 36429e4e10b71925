import { Router } from 'express';
import type { HealthService } from '../modules/health/health.service.js';
import { RETRY_AFTER_SECONDS } from './http-status.js';

/**
 * `/health/live`: the process answers (a supervisor restarts it when this fails); nothing else
 * is asked, so a database outage never gets a healthy process killed. `/health/ready` and the
 * older `/health`: it can serve requests now (a load balancer sends traffic only then), 200 or 503
 * with each check's answer.
 */
export function healthRoutes(health: HealthService): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.set('cache-control', 'no-store').json({ status: 'ok' });
  });
  router.get(['/health', '/health/ready'], async (_req, res) => {
    const report = await health.ready();
    res.set('cache-control', 'no-store');
    if (report.status !== 'ok') res.status(503).set('retry-after', String(RETRY_AFTER_SECONDS));
    res.json(report);
  });
  return router;
}
