import pg from 'pg';
import type { Logger } from '../../config/logger.js';
import type { AuthService } from './auth.service.js';

const CHANNEL = 'tagwise_api_keys';
const RETRY_MS = 1_000;

/**
 * Keeps an AuthService's key cache honest: a trigger on api_key notifies `tagwise_api_keys` on
 * every change (revocation, rotation, a new key), and this process clears its cache on hearing
 * it, so a revoked key is refused at once in every API process. While the connection is down
 * the cache is off (every request looks its key up) and the listener reconnects.
 */
export class ApiKeyListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  /** Whether the loss was logged: a database that stays down fails every reconnection. */
  private down = false;

  constructor(
    private readonly url: string,
    private readonly auth: AuthService,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', () => this.auth.invalidate());
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.auth.setCacheTrusted(true);
    if (this.down) this.logger.info('API key change listener reconnected; keys are cached again');
    this.down = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.auth.setCacheTrusted(false);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== null && this.client !== client) return;
    this.client = null;
    this.auth.setCacheTrusted(false);
    client.removeAllListeners('end');
    client.end().catch(() => {});
    if (this.stopped || this.retry) return;
    if (!this.down) {
      this.logger.warn(
        { err: error },
        'API key change listener lost; keys are looked up per request',
      );
    }
    this.down = true;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) void this.start();
    }, RETRY_MS);
  }
}
