import { InvalidArgumentError, type Command } from 'commander';
import { Role } from '../modules/auth/api-key.entity.js';
import { AuthService } from '../modules/auth/auth.service.js';
import { withDatabase } from './context.js';

function parseRole(value: string): Role {
  const role = value.toUpperCase().replace(/-/g, '_') as Role;
  if (!Object.values(Role).includes(role)) {
    throw new InvalidArgumentError(`must be one of ${Object.values(Role).join(', ')}`);
  }
  return role;
}

export function registerApiKeyCommand(program: Command): void {
  const apikey = program.command('apikey').description('manage API keys');
  apikey
    .command('create')
    .description('create a key and print it once (only its hash is stored)')
    .requiredOption('--role <role>', `one of ${Object.values(Role).join(', ')}`, parseRole)
    .requiredOption('--name <name>', 'who or what uses the key')
    .action(async (options: { role: Role; name: string }) => {
      await withDatabase(async ({ orm }) => {
        const { key, apiKey } = await new AuthService(orm.em).createKey(options.role, options.name);
        console.error(
          `Created ${apiKey.role} key "${apiKey.name}" (id ${apiKey.id}). It is shown only now:`,
        );
        console.log(key);
      });
    });
}
