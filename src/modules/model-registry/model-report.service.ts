import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKey } from '../auth/api-key.entity.js';
import type { Viewer } from '../auth/auth.service.js';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../common/domain.errors.js';
import { TaxonomyVisibility } from '../taxonomy/visibility.js';
import { ModelVersion } from './model-version.entity.js';

/** The training report's file name, beside manifest.json in a version's folder. */
export const REPORT_FILE = 'report.html';

/** How long a report link stays valid. */
const REPORT_LINK_SECONDS = 15 * 60;

const ID = /^[1-9][0-9]{0,17}$/;

/** The report's path: `artifactPath` is where the training wrote the version's folder. */
export function reportPath(version: Pick<ModelVersion, 'artifactPath'>): string {
  return path.join(path.resolve(version.artifactPath), REPORT_FILE);
}

/** What a report request carries: a bearer key's viewer, or a signed link's parameters. */
export interface ReportCredentials {
  viewer: Viewer | null;
  link: { key?: string; expires?: string; signature?: string } | null;
}

const sign = (secret: string, id: string, keyId: string, expires: number) =>
  createHmac('sha256', secret).update(`report:${id}:${keyId}:${expires}`).digest('base64url');

/**
 * Links to training reports. A browser follows a link without an Authorization header, so the
 * link carries its own proof: the key it was made for, an expiry and an HMAC of both with the
 * version's id. The HMAC's secret is that key's stored hash — in the database, so every API
 * process verifies what any other signed, and never sent anywhere. A revoked, rotated or expired
 * key's links die with it; each use checks the key's rights again.
 *
 * A report is written for the whole taxonomy: every tag's labels and metrics. Only a key that
 * sees every tag (ADMIN, or departments that hide none) gets a link or the file; for the others
 * the version's data is filtered per department (visibleJson), which a static file cannot be.
 */
export class ModelReportService {
  private readonly secrets = new Map<string, Promise<string | null>>();

  constructor(private readonly em: EntityManager) {}

  /**
   * A signed link, relative to the API's origin, valid for REPORT_LINK_SECONDS; null when the
   * viewer may not read the version in full or the version has no report.
   */
  async linkFor(
    version: ModelVersion,
    viewer: Viewer | null,
    visibility: TaxonomyVisibility,
    now = Date.now(),
  ): Promise<string | null> {
    if (!viewer) return null;
    if ((await visibility.hiddenTaxonomy()).tagIds.length > 0) return null;
    if (!(await exists(reportPath(version)))) return null;
    const secret = await this.secretOf(viewer.keyId, now);
    if (!secret) return null;
    const expires = Math.floor(now / 1000) + REPORT_LINK_SECONDS;
    const query = new URLSearchParams({
      key: viewer.keyId,
      expires: String(expires),
      signature: sign(secret, version.id, viewer.keyId, expires),
    });
    return `/models/${version.id}/report.html?${query.toString()}`;
  }

  /**
   * The report file of version `id` for these credentials. UNAUTHENTICATED without a valid key or
   * link (forged, expired, or its key revoked), FORBIDDEN for a key some tag is hidden from,
   * NOT_FOUND for an unknown version or one without a report. The path comes from the registry,
   * never from the request: the request names an id only.
   */
  async open(id: string, credentials: ReportCredentials, now = Date.now()): Promise<string> {
    const viewer = credentials.viewer ?? (await this.viewerOfLink(id, credentials.link, now));
    const visibility = new TaxonomyVisibility(this.em, viewer);
    if ((await visibility.hiddenTaxonomy()).tagIds.length > 0) {
      throw new ForbiddenError(
        'This key’s departments hide some tags; a training report shows every tag',
      );
    }
    const version = ID.test(id) ? await this.em.findOne(ModelVersion, { id }) : null;
    if (!version) throw new NotFoundError('ModelVersion', id);
    const file = reportPath(version);
    if (!(await exists(file))) {
      throw new NotFoundError('Training report of ModelVersion', id);
    }
    return file;
  }

  private async viewerOfLink(
    id: string,
    link: ReportCredentials['link'],
    now: number,
  ): Promise<Pick<Viewer, 'role' | 'departments'>> {
    const { key, expires, signature } = link ?? {};
    if (!key && !expires && !signature) throw new UnauthenticatedError();
    const invalid = new UnauthenticatedError('The report link is invalid or has expired');
    if (!key || !ID.test(key) || !expires || !/^[0-9]{1,12}$/.test(expires) || !signature) {
      throw invalid;
    }
    const until = Number(expires);
    const seconds = now / 1000;
    // A link valid for longer than links are made for was not made here (a key's holder could
    // compute its own hash); refused like a forged one.
    if (until <= seconds || until > seconds + REPORT_LINK_SECONDS + 60) throw invalid;
    const row = await this.activeKey(key, now);
    if (!row || !sameText(sign(row.keyHash, id, key, until), signature)) throw invalid;
    // What the report needs of the key: what it may see.
    return { role: row.role, departments: row.departments };
  }

  private async secretOf(keyId: string, now: number): Promise<string | null> {
    let secret = this.secrets.get(keyId);
    if (!secret) {
      secret = this.activeKey(keyId, now).then((row) => row?.keyHash ?? null);
      this.secrets.set(keyId, secret);
    }
    return secret;
  }

  private async activeKey(keyId: string, now: number): Promise<ApiKey | null> {
    const row = await this.em.findOne(ApiKey, { id: keyId, revokedAt: null });
    return row && (!row.expiresAt || row.expiresAt.getTime() > now) ? row : null;
  }
}

/** Equal strings, compared in constant time (a signature must not leak by timing). */
function sameText(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
