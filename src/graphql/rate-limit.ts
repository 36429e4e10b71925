import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';

/** Buckets kept before idle (full) ones are dropped. */
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * At most `perMinute` requests a minute per API key (per client address without a key), with
 * bursts of up to a tenth of a minute's worth at once: a token bucket per key in this process.
 * With TAGWISE_API_PROCESSES above 1 each process counts on its own, so a key can reach that many
 * times the rate. Refusals answer 429 with Retry-After and a GraphQL error naming the limit.
 */
export function rateLimit(perMinute: number): RequestHandler {
  const capacity = Math.max(1, Math.ceil(perMinute / 10));
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, Bucket>();
  return (req, res, next) => {
    const header = req.headers.authorization;
    // A digest, so the map never holds a key itself.
    const id = header
      ? createHash('sha256').update(header).digest('base64url')
      : `address:${req.socket.remoteAddress ?? ''}`;
    const t = Date.now();
    let bucket = buckets.get(id);
    if (!bucket) {
      if (buckets.size >= MAX_BUCKETS) {
        for (const [key, b] of buckets) {
          if (b.tokens + (t - b.at) * perMs >= capacity) buckets.delete(key);
        }
        if (buckets.size >= MAX_BUCKETS) buckets.clear();
      }
      bucket = { tokens: capacity, at: t };
      buckets.set(id, bucket);
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + (t - bucket.at) * perMs);
    bucket.at = t;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      next();
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
    res
      .status(429)
      .set('retry-after', String(retryAfter))
      .json({
        errors: [
          {
            message: `Too many requests for this key: at most ${perMinute} a minute; retry in ${retryAfter} s`,
            extensions: {
              code: 'RATE_LIMITED',
              limit: 'requestsPerMinute',
              max: perMinute,
              retryAfterSeconds: retryAfter,
            },
          },
        ],
      });
  };
}
