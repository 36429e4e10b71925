import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainModels } from '../../src/jobs/train.job.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestApp, type TestApp } from '../support/app.js';
import {
  launchBrowser,
  openPage,
  screenshot,
  signIn,
  type WatchedPage,
} from '../support/browser.js';

// The console's customer, models and rule-conflict pages against a small demo (its rules raise
// conflicts with reviewers' decisions; its model is the first version, a second is trained here).
describe('customer, models and rule-conflict pages, in a browser with no network but this server', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  const watched: WatchedPage[] = [];

  beforeAll(async () => {
    t = await createTestApp({ TAGWISE_DEMO: '1', TAGWISE_DEMO_CUSTOMERS: '400' });
    base = await t.serve();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** A fresh page at `address`, signed in with the role's test key (or `key`). */
  async function open(as: Role, address: string, key = t.keys[as]): Promise<Page> {
    const opened = await openPage(browser, base);
    watched.push(opened);
    opened.page.setDefaultTimeout(10_000);
    await opened.page.goto(address);
    await signIn(opened.page, key);
    return opened.page;
  }

  it('finds a customer by external id and shows what the API has on them', async () => {
    const { reviewQueue } = await t.ok(
      `{ reviewQueue(first: 1, orderBy: HIGHEST_CONFIDENCE) { edges { node { customer { id city } } } } }`,
    );
    const { id, city } = reviewQueue.edges[0].node.customer;
    // A tag of its own, so the customer surely did not hold it: a reviewer applies it by hand.
    const { createTagCategory } = await t.ok(
      `mutation { createTagCategory(input: { name: "Console test", kind: OTHER }) { id } }`,
    );
    const { createTag } = await t.ok(
      `mutation($c: ID!) { createTag(input: { categoryId: $c, name: "Seen in store" }) { id } }`,
      { c: createTagCategory.id },
    );
    const { applyTags } = await t.ok(
      `mutation($c: ID!, $t: ID!) { applyTags(customerIds: [$c], tagIds: [$t], note: "met at the counter") { applied } }`,
      { c: id, t: createTag.id },
      Role.REVIEWER,
    );
    expect(applyTags.applied).toBe(1);
    await t.ok(
      `mutation($text: String!) { createSegment(input: { key: "same-city", name: "Same city", text: $text }) { id } }`,
      { text: `city = "${city}"` },
      Role.DATA_SCIENTIST,
    );
    const { customer } = await t.ok(
      `query($id: ID!) { customer(id: $id) {
        name externalId email
        tags { tag { name } source appliedBy }
        tagHistory(first: 1) { totalCount edges { node { action tag { name } } } }
        suggestions { tag { name } }
        segments { name }
        events(first: 1) { totalCount edges { node { type } } }
      } }`,
      { id },
      Role.DATA_SCIENTIST,
    );
    expect(customer.suggestions.length).toBeGreaterThan(0);

    const page = await open(Role.DATA_SCIENTIST, '/customers');
    await page.getByLabel('Name, email or external id').fill(customer.externalId);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: customer.name }).click();
    await page.getByRole('heading', { name: `Customer ${customer.name}` }).waitFor();

    const section = (name: RegExp) => page.getByRole('region', { name });
    expect(await section(/^Profile/).innerText()).toContain(customer.email);
    const tagsText = await section(/^Tags/).innerText();
    for (const applied of customer.tags) expect(tagsText).toContain(applied.tag.name);
    expect(tagsText).toContain('test-REVIEWER');
    expect(tagsText).toContain('met at the counter');
    expect(await section(/^Tags/).getByRole('heading').innerText()).toBe(
      `Tags (${customer.tags.length})`,
    );
    const history = section(/^Tag history/);
    expect(await history.getByRole('heading').innerText()).toBe(
      `Tag history (${customer.tagHistory.totalCount} changes)`,
    );
    // Newest first: the reviewer's tag heads the timeline.
    expect(await history.getByRole('listitem').first().innerText()).toMatch(
      /applied\s*Seen in store/i,
    );
    const pending = await section(/^Pending suggestions/).innerText();
    for (const suggestion of customer.suggestions) expect(pending).toContain(suggestion.tag.name);
    expect(await section(/^Segments/).innerText()).toContain('Same city');
    expect(customer.segments.map((s: { name: string }) => s.name)).toContain('Same city');
    expect(
      await section(/^Recent events/)
        .getByRole('heading')
        .innerText(),
    ).toMatch(new RegExp(`of ${customer.events.totalCount}\\)$`));
    await screenshot(page, 'customer');
  });

  it('compares two versions, promotes the new one and rolls back, with online precision', async () => {
    const first = await t.ok(`{ activeModelVersion { id version } }`);
    const second = await trainModels(t.app.orm, {
      seed: 7,
      createdBy: 'test',
      modelsDir: path.join(os.tmpdir(), 'tagwise-test-models'),
    });
    // Reviewers decide two of the active version's suggestions: its online precision stands on them.
    const { reviewQueue } = await t.ok(
      `{ reviewQueue(first: 2, orderBy: HIGHEST_CONFIDENCE) { edges { node { id tag { name } } } } }`,
    );
    const [approved, rejected] = reviewQueue.edges.map((e: any) => e.node);
    await t.ok(
      `mutation($id: ID!) { approveSuggestion(id: $id) { status } }`,
      { id: approved.id },
      Role.REVIEWER,
    );
    await t.ok(
      `mutation($id: ID!) { rejectSuggestion(id: $id, reason: "no") { status } }`,
      { id: rejected.id },
      Role.REVIEWER,
    );
    const { modelVersions } = await t.ok(
      `{ modelVersions(first: 5) { edges { node { id version onlinePrecision { tag { name } approved rejected corrected } } } } }`,
    );
    const online = modelVersions.edges.find((e: any) => e.node.id === first.activeModelVersion.id)
      .node.onlinePrecision;

    const page = await open(Role.DATA_SCIENTIST, '/models');
    const versions = page.getByRole('region', { name: /^Versions/ });
    await versions.getByRole('cell', { name: 'ACTIVE' }).waitFor();
    expect(await versions.getByRole('row').count()).toBe(3);
    // Side by side: the active version against the newest other one, the new candidate.
    const comparison = page.getByRole('region', { name: 'Compare versions per tag' });
    expect(await page.getByLabel('Compare', { exact: true }).inputValue()).toBe(
      first.activeModelVersion.id,
    );
    expect(await page.getByLabel('with', { exact: true }).inputValue()).toBe(second.modelVersionId);
    const highValue = comparison.getByRole('row', { name: /^high-value/ });
    const expected = second.metrics.find((m) => m.tag === 'high-value')!;
    if (expected.confident) {
      expect(await highValue.innerText()).toContain(`${(expected.precision! * 100).toFixed(1)} %`);
    } else {
      expect(await highValue.innerText()).toContain('not confident');
    }
    // wine-lover is learnt from positive and unlabelled customers: its precision is an estimate.
    expect(await comparison.getByRole('row', { name: /^wine-lover/ }).innerText()).toMatch(
      /estimated|not confident/,
    );
    const onlineRegion = page.getByRole('region', { name: 'Online precision per tag' });
    for (const row of online) {
      const cells = await onlineRegion
        .getByRole('region', { name: first.activeModelVersion.version })
        .getByRole('row', { name: new RegExp(`^${escapeRegExp(row.tag.name)}`) })
        .innerText();
      expect(cells).toMatch(new RegExp(`${row.approved}\\s+${row.rejected}\\s+${row.corrected}$`));
    }
    expect(online.reduce((n: number, r: any) => n + r.approved + r.rejected, 0)).toBe(2);

    await screenshot(page, 'models');

    // Escape leaves the confirmation without promoting anything.
    await page.getByRole('button', { name: `Promote ${second.version}` }).click();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect((await t.ok(`{ activeModelVersion { id } }`)).activeModelVersion.id).toBe(
      first.activeModelVersion.id,
    );
    await page.getByRole('button', { name: `Promote ${second.version}` }).click();
    const dialog = page.getByRole('dialog', { name: `Promote ${second.version}?` });
    await dialog.getByRole('button', { name: 'Promote' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `${second.version} is now ACTIVE` })
      .waitFor();
    expect((await t.ok(`{ activeModelVersion { id } }`)).activeModelVersion.id).toBe(
      second.modelVersionId,
    );

    // Rolling back is promoting the previous version again, confirmed the same way.
    await page
      .getByRole('button', { name: `Roll back to ${first.activeModelVersion.version}` })
      .click();
    await page
      .getByRole('dialog', { name: `Roll back to ${first.activeModelVersion.version}?` })
      .getByRole('button', { name: 'Roll back' })
      .click();
    await page
      .getByRole('status')
      .filter({ hasText: `${first.activeModelVersion.version} is now ACTIVE` })
      .waitFor();
    const statuses = await t.sql<{ id: string; status: string }>(
      `select id::text, status from model_version order by id`,
    );
    expect(statuses).toEqual([
      { id: first.activeModelVersion.id, status: 'ACTIVE' },
      { id: second.modelVersionId, status: 'RETIRED' },
    ]);
  });

  it('resolves one rule conflict each way, the row showing the outcome at once', async () => {
    const { ruleConflicts } = await t.ok(
      `{ ruleConflicts(first: 3) { totalCount edges { node { id kind customer { id externalId } tag { id key } } } } }`,
    );
    expect(ruleConflicts.totalCount).toBeGreaterThanOrEqual(3);
    const [kept, accepted, taken] = ruleConflicts.edges.map((e: any) => e.node);

    const page = await open(Role.DATA_SCIENTIST, '/conflicts');
    await page
      .getByRole('heading', { name: `${ruleConflicts.totalCount} open conflicts` })
      .waitFor();
    // By keyboard: the outcome takes the focus from the button it replaces.
    await page
      .getByRole('button', {
        name: new RegExp(`Keep the reviewer’s decision for .*${kept.customer.externalId}`),
      })
      .focus();
    await page.keyboard.press('Enter');
    const keptRow = page.getByRole('row').filter({ hasText: kept.customer.externalId });
    await keptRow.getByText('Reviewer’s decision kept').waitFor();
    await expect
      .poll(() =>
        page
          .locator(':focus')
          .textContent({ timeout: 1000 })
          .catch(() => ''),
      )
      .toContain('Reviewer’s decision kept');
    await page
      .getByRole('button', {
        name: new RegExp(`Accept the rule for .*${accepted.customer.externalId}`),
      })
      .click();
    const acceptedRow = page.getByRole('row').filter({ hasText: accepted.customer.externalId });
    await acceptedRow.getByText('Rule accepted').waitFor();
    expect(await keptRow.getByRole('button').count()).toBe(0);

    // An admin resolves the third behind the page's back: the page's try is refused, in the row.
    await t.ok(
      `mutation($id: ID!) { resolveRuleConflict(id: $id, resolution: KEEP_DECISION) { id } }`,
      { id: taken.id },
    );
    await page
      .getByRole('button', {
        name: new RegExp(`Accept the rule for .*${taken.customer.externalId}`),
      })
      .click();
    const refusal = page
      .getByRole('row')
      .filter({ hasText: taken.customer.externalId })
      .getByRole('alert');
    expect(await refusal.innerText()).toMatch(/\(CONFLICT\)$/);
    await screenshot(page, 'conflicts');

    const resolved = await t.ok(
      `{ ruleConflicts(first: 20, resolved: true) { edges { node { id resolution resolvedBy } } } }`,
    );
    expect(resolved.ruleConflicts.edges.map((e: any) => e.node)).toEqual(
      expect.arrayContaining([
        { id: kept.id, resolution: 'KEEP_DECISION', resolvedBy: 'test-DATA_SCIENTIST' },
        { id: accepted.id, resolution: 'ACCEPT_RULE', resolvedBy: 'test-DATA_SCIENTIST' },
      ]),
    );
    // Accepting made the rule's change: the customer holds (or no longer holds) the rule's tag by it.
    const { customer } = await t.ok(
      `query($id: ID!) { customer(id: $id) { tags { tag { key } source } } }`,
      {
        id: accepted.customer.id,
      },
    );
    const held = customer.tags.find((a: any) => a.tag.key === accepted.tag.key);
    if (accepted.kind === 'RETRACT_APPROVED') expect(held).toBeUndefined();
    else expect(held).toMatchObject({ source: 'RULE' });
  });

  it('shows a reviewer without the PII permission masked customers, and no models or conflicts', async () => {
    const { key } = await new AuthService(t.app.orm.em.fork()).createKey({
      role: Role.REVIEWER,
      name: 'reviewer-without-pii',
    });
    const { customers } = await t.ok(
      `{ customers(first: 1) { edges { node { id externalId } } } }`,
    );
    const { externalId } = customers.edges[0].node;
    const masked = await t.gql(
      `query($id: ID!) { customer(id: $id) { name email } }`,
      {
        id: customers.edges[0].node.id,
      },
      { key },
    );

    const page = await open(Role.REVIEWER, '/customers', key);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Customers' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Models' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Rule conflicts' }).count()).toBe(0);
    // The API refuses this key name searches: the form asks for an external id only.
    await page.getByLabel('External id', { exact: true }).fill(externalId);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: masked.data!.customer.name }).click();
    const profile = page.getByRole('region', { name: 'Profile' });
    expect(await profile.innerText()).toContain('masked for this key');
    expect(await profile.innerText()).toContain(masked.data!.customer.email);

    await page.goto('/models');
    await page.getByRole('alert').filter({ hasText: 'for data scientists and admins' }).waitFor();
    await page.goto('/conflicts');
    await page.getByRole('alert').filter({ hasText: 'for data scientists and admins' }).waitFor();
    expect(await page.getByRole('button', { name: /Accept the rule/ }).count()).toBe(0);
  });

  it('asked nothing of any other host and threw no errors', () => {
    expect(watched.flatMap((w) => w.offsite)).toEqual([]);
    expect(watched.flatMap((w) => w.pageErrors)).toEqual([]);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
