import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../config/logger.js';

/** What the body parser attaches to its errors (http-errors). */
interface BodyError {
  status?: unknown;
  type?: unknown;
  limit?: unknown;
}

/**
 * Errors raised before GraphQL runs — a body that is not JSON, one over the size limit, an
 * unsupported charset — answered as a GraphQL error in JSON with the HTTP status the parser chose.
 * Express's own handler would answer an HTML page, with the stack unless NODE_ENV is production.
 * Anything else is logged and answered as a bare INTERNAL_SERVER_ERROR.
 */
export function requestErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const e = (error ?? {}) as BodyError;
    const status =
      typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 500;
    let body: { message: string; extensions: Record<string, unknown> };
    if (e.type === 'entity.too.large') {
      body = {
        message: `The request body is larger than the limit of ${String(e.limit)} bytes`,
        extensions: { code: 'PAYLOAD_TOO_LARGE', limit: 'requestBodyBytes', max: e.limit },
      };
    } else if (e.type === 'entity.parse.failed') {
      body = { message: 'The request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } };
    } else if (status < 500) {
      // The parser's other refusals (charset, encoding, aborted upload) say what went wrong and
      // carry nothing of the server's.
      const message = error instanceof Error ? error.message : 'Bad request';
      body = { message, extensions: { code: 'BAD_REQUEST' } };
    } else {
      logger.error({ err: error }, 'unexpected error outside GraphQL');
      body = { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
    res.status(status).json({ errors: [body] });
  };
}
