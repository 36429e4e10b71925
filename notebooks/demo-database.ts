// The notebooks' demo database (npm run notebooks): the first-start demo (customers, features,
// rules, an ACTIVE model and its suggestions), then a reviewer who decides some suggestions by
// the demo's hidden truth, so notebook 04 has online precision to read.
import { openDatabaseForCli } from '../src/cli/context.js';
import { seedDemoOnFirstStart } from '../src/jobs/demo-setup.job.js';
import { DEFAULT_DEMO_SEED } from '../src/modules/demo/demo.defaults.js';
import { demoPersona, demoTrueTags } from '../src/modules/demo/demo.generator.js';
import { SuggestionService } from '../src/modules/suggestion/suggestion.service.js';

const DECISIONS = 400;

const { orm, config, logger, close } = await openDatabaseForCli();
try {
  await seedDemoOnFirstStart(orm, config, logger);
  const pending = await orm.em.fork().execute<{ id: string; externalId: string; tag: string }[]>(
    `select s.id::text as id, c.external_id as "externalId", t.key as tag
     from tag_suggestion s join customer c on c.id = s.customer_id join tag t on t.id = s.tag_id
     where s.status = 'PENDING' order by s.id limit ?`,
    [DECISIONS],
  );
  let approved = 0;
  for (const s of pending) {
    // demo-0000042 is the demo's customer index 41 (demoExternalId).
    const persona = demoPersona(DEFAULT_DEMO_SEED, Number(s.externalId.slice('demo-'.length)) - 1);
    const service = new SuggestionService(orm.em.fork());
    if (demoTrueTags(persona).includes(s.tag)) {
      await service.approve(s.id, 'demo-reviewer');
      approved++;
    } else {
      await service.reject(s.id, 'demo-reviewer', 'not true of this demo customer');
    }
  }
  process.stdout.write(
    `demo database ready: ${pending.length} suggestions decided (${approved} approved)\n`,
  );
} finally {
  await close();
}
