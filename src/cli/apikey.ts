import { InvalidArgumentError, type Command } from 'commander';
import type { ApiKey, ApiKeyStatus } from '../modules/auth/api-key.entity.js';
import { Permission, Role } from '../modules/auth/rights.js';
import { withDatabase } from './context.js';

function parseRole(value: string): Role {
  const role = value.toUpperCase().replace(/-/g, '_') as Role;
  if (!Object.values(Role).includes(role)) {
    throw new InvalidArgumentError(`must be one of ${Object.values(Role).join(', ')}`);
  }
  return role;
}

function parseExpiry(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('must be an ISO date or date-time, e.g. 2027-06-30');
  }
  return date;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** What `apikey list --json` prints per key; never the key or its hash. */
export function keyJson(k: ApiKey, status: ApiKeyStatus) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    permissions: k.permissions,
    departments: k.departments,
    keyPrefix: k.keyPrefix,
    source: k.source,
    status,
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}

const day = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : '–');

function formatKeys(keys: readonly ApiKey[], statusOf: (k: ApiKey) => ApiKeyStatus): string {
  const rows = keys.map((k) => [
    k.id,
    k.name,
    k.role,
    statusOf(k),
    k.permissions.join(',') || '–',
    k.departments.join(',') || '–',
    `${k.keyPrefix}…`,
    day(k.expiresAt),
    day(k.lastUsedAt),
  ]);
  const header = [
    'id',
    'name',
    'role',
    'status',
    'permissions',
    'departments',
    'key',
    'expires',
    'last used',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

export function registerApiKeyCommand(program: Command): void {
  const apikey = program.command('apikey').description('manage API keys');
  apikey
    .command('create')
    .description('create a key and print it once (only its hash is stored)')
    .requiredOption('--role <role>', `one of ${Object.values(Role).join(', ')}`, parseRole)
    .requiredOption('--name <name>', 'who or what uses the key')
    .option('--pii', 'the key may see personal data (email, phone, name) in clear')
    .option(
      '--department <key>',
      'a department the key belongs to (repeat for several)',
      collect,
      [] as string[],
    )
    .option('--expires <date>', 'refuse the key from this ISO date or date-time on', parseExpiry)
    .action(
      async (options: {
        role: Role;
        name: string;
        pii?: boolean;
        department: string[];
        expires?: Date;
      }) => {
        const { AuthService, keyRights } = await import('../modules/auth/auth.service.js');
        await withDatabase(async ({ orm, audit }) => {
          const { key, apiKey } = await new AuthService(orm.em).createKey({
            role: options.role,
            name: options.name,
            permissions: options.pii ? [Permission.PII] : [],
            departments: options.department,
            expiresAt: options.expires ?? null,
          });
          await audit({
            operation: 'cli:apikey create',
            targetType: 'API_KEY',
            targetIds: [apiKey.id],
            change: { after: keyRights(apiKey) },
          });
          console.error(
            `Created ${apiKey.role} key "${apiKey.name}" (id ${apiKey.id}). It is shown only now:`,
          );
          console.log(key);
        });
      },
    );
  apikey
    .command('list')
    .description('list keys (never the keys themselves): status, permissions, expiry, last use')
    .option('--json', 'print the keys as a JSON array')
    .action(async (options: { json?: boolean }) => {
      const [{ AuthService }, { apiKeyStatus }] = await Promise.all([
        import('../modules/auth/auth.service.js'),
        import('../modules/auth/api-key.entity.js'),
      ]);
      await withDatabase(async ({ orm }) => {
        const auth = new AuthService(orm.em);
        const keys: ApiKey[] = [];
        for (let after: string | null = null; ;) {
          const page = await auth.listKeys({ first: 500, after });
          keys.push(...page.nodes);
          if (!page.hasNextPage) break;
          after = page.cursors.at(-1) ?? null;
        }
        console.log(
          options.json
            ? JSON.stringify(
                keys.map((k) => keyJson(k, apiKeyStatus(k))),
                null,
                2,
              )
            : formatKeys(keys, apiKeyStatus),
        );
      });
    });
  apikey
    .command('revoke <id>')
    .description('revoke a key: every API process refuses it at once')
    .action(async (id: string) => {
      const { AuthService } = await import('../modules/auth/auth.service.js');
      await withDatabase(async ({ orm, audit }) => {
        const key = await new AuthService(orm.em).revokeKey(id);
        await audit({
          operation: 'cli:apikey revoke',
          targetType: 'API_KEY',
          targetIds: [key.id],
          change: { after: { revokedAt: key.revokedAt } },
        });
        console.error(`Revoked key ${key.id} "${key.name}" (${key.role}).`);
      });
    });
  apikey
    .command('rotate <id>')
    .description('replace a key with a new secret (same name, role, permissions, departments)')
    .action(async (id: string) => {
      const { AuthService } = await import('../modules/auth/auth.service.js');
      await withDatabase(async ({ orm, audit }) => {
        const { key, apiKey } = await new AuthService(orm.em).rotateKey(id);
        await audit({
          operation: 'cli:apikey rotate',
          targetType: 'API_KEY',
          targetIds: [id, apiKey.id],
          change: { revoked: id, replacement: apiKey.id },
        });
        console.error(
          `Key ${id} is revoked; its replacement is key ${apiKey.id}. It is shown only now:`,
        );
        console.log(key);
      });
    });
}
