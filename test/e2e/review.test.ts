import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { createTestApp, type TestApp } from '../support/app.js';
import {
  launchBrowser,
  openPage,
  screenshot,
  signIn,
  type WatchedPage,
} from '../support/browser.js';

const REVIEWER = 'test-REVIEWER';

describe('the review queue, worked in a browser by a reviewer', () => {
  let t: TestApp;
  let browser: Browser;
  let watched: WatchedPage;
  let page: Page;
  /** The queue's most pending tag of a category with other tags to correct to. */
  let worked: { id: string; categoryId: string };

  beforeAll(async () => {
    // 400 demo customers train a model and leave several hundred pending suggestions; with 250 none
    // was of a category with a second tag to correct to.
    t = await createTestApp({ TAGWISE_DEMO: '1', TAGWISE_DEMO_CUSTOMERS: '400' });
    const base = await t.serve();
    browser = await launchBrowser();
    watched = await openPage(browser, base);
    page = watched.page;
    [worked] = await t.sql<{ id: string; categoryId: string }>(
      `select s.tag_id::text as id, t.category_id::text as "categoryId"
         from tag_suggestion s join tag t on t.id = s.tag_id
        where s.status = 'PENDING'
          and (select count(*) from tag o
                where o.category_id = t.category_id and o.status = 'ACTIVE') > 1
        group by s.tag_id, t.category_id order by count(*) desc limit 1`,
    );
    if (!worked) throw new Error('the demo left no pending suggestion to correct');
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** The suggestion the queue's keys act on now. */
  const focusedId = async () =>
    (await page.locator('article[aria-current="true"]').getAttribute('data-suggestion-id'))!;
  const outcomeOf = (id: string) => page.locator(`article[data-suggestion-id="${id}"] .outcome`);
  const suggestion = async (id: string) =>
    (
      await t.sql<{ status: string; reviewedBy: string | null; note: string | null }>(
        `select status, reviewed_by as "reviewedBy", review_note as note
           from tag_suggestion where id = ?`,
        [id],
      )
    )[0]!;

  it('works ten suggestions by keyboard: each decision pressed is recorded, by this key', async () => {
    await page.goto('/');
    await signIn(page, t.keys.REVIEWER);
    // The home page of a reviewer is the queue; the filter lives in the address.
    await page.waitForURL('**/queue');
    await page.getByLabel('Tag', { exact: true }).selectOption(worked.id);
    await page.waitForURL(`**/queue?tag=${worked.id}`);
    await page.reload();
    await expect.poll(() => page.getByLabel('Tag', { exact: true }).inputValue()).toBe(worked.id);
    await page.locator('article[aria-current="true"]').waitFor();

    // The first is skipped (no request: it stays pending); the next ten are decided in turn.
    const skipped = await focusedId();
    await page.keyboard.press('s');
    await expect.poll(() => outcomeOf(skipped).innerText()).toBe('Skipped');
    const pressed = ['a', 'r', 'a', 'a', 'r', 'a', 'a', 'r', 'a', 'a'] as const;
    const decided: { id: string; key: (typeof pressed)[number] }[] = [];
    for (const [index, key] of pressed.entries()) {
      const id = await focusedId();
      expect(decided.map((d) => d.id)).not.toContain(id);
      await page.keyboard.press(key);
      if (key === 'r') {
        await page.getByLabel('Reason for rejecting').fill(`not a fan ${index}`);
        await page.keyboard.press('Enter');
      }
      // The result is on the item before the next key is pressed.
      await expect
        .poll(() => outcomeOf(id).innerText())
        .toMatch(new RegExp(`^${key === 'a' ? 'Approved' : 'Rejected'} by ${REVIEWER} at`));
      decided.push({ id, key });
      // One approved, one rejected with its reason, the next in focus, and the filters above.
      if (decided.length === 2) {
        await page.setViewportSize({ width: 1280, height: 1000 });
        await page.evaluate('window.scrollTo(0, 0)');
        await screenshot(page, 'queue');
        await page.setViewportSize({ width: 1280, height: 800 });
      }
    }

    const byKey = await t.sql<{ id: string; status: string; note: string | null }>(
      `select id::text, status, review_note as note from tag_suggestion
        where reviewed_by = ? order by tag_suggestion.id`,
      [REVIEWER],
    );
    expect(byKey).toEqual(
      decided
        .map(({ id, key }, index) => ({
          id,
          status: key === 'a' ? 'APPROVED' : 'REJECTED',
          note: key === 'r' ? `not a fan ${index}` : null,
        }))
        .sort((a, b) => Number(a.id) - Number(b.id)),
    );
    expect((await suggestion(skipped)).status).toBe('PENDING');
    // Approved means applied: each approved customer holds the tag now.
    const approved = decided.filter((d) => d.key === 'a').map((d) => d.id);
    const [held] = await t.sql<{ n: number }>(
      `select count(*)::int as n from tag_suggestion s join customer_tag ct
          on ct.customer_id = s.customer_id and ct.tag_id = s.tag_id
        where s.id in (${approved.map(() => '?').join(',')})`,
      approved,
    );
    expect(held!.n).toBe(approved.length);
  });

  it('corrects to another tag of the same category with the picker', async () => {
    const id = await focusedId();
    await page.keyboard.press('c');
    const picker = page.getByRole('listbox', { name: /Correct to another tag of/ });
    const first = (await picker.getByRole('option').first().innerText()).replace(/^1\s*/, '');
    await page.keyboard.press('1');
    await expect.poll(() => outcomeOf(id).innerText()).toMatch(`Corrected to ${first} by`);

    const [row] = await t.sql<{ status: string; name: string; categoryId: string; held: boolean }>(
      `select s.status, c.name, c.category_id::text as "categoryId",
              exists (select 1 from customer_tag ct
                       where ct.customer_id = s.customer_id and ct.tag_id = c.id) as held
         from tag_suggestion s join tag c on c.id = s.corrected_tag_id where s.id = ?`,
      [id],
    );
    expect(row).toEqual({
      status: 'CORRECTED',
      name: first,
      categoryId: worked.categoryId,
      held: true,
    });
  });

  it('shows a decision another reviewer made first as theirs, and keeps it', async () => {
    const id = await focusedId();
    const other = await t.gql(
      `mutation ($id: ID!) { rejectSuggestion(id: $id, reason: "seen first") { status } }`,
      { id },
      { as: Role.ADMIN },
    );
    expect(other.errors).toBeUndefined();
    await page.keyboard.press('a');
    await expect
      .poll(() => outcomeOf(id).innerText())
      .toMatch(/^Already rejected by test-ADMIN at .*: decided first$/);
    // Not an error: no alert on the page, and the first decision stands.
    expect(await page.getByRole('alert').count()).toBe(0);
    expect(await suggestion(id)).toEqual({
      status: 'REJECTED',
      reviewedBy: 'test-ADMIN',
      note: 'seen first',
    });
  });

  it('approves by filter after a dry run, deciding exactly what the dry run counted', async () => {
    const [other] = await t.sql<{ id: string }>(
      `select tag_id::text as id from tag_suggestion where status = 'PENDING' and tag_id <> ?
        group by tag_id order by count(*) desc limit 1`,
      [worked.id],
    );
    await page.goto(`/queue?tag=${other!.id}&min=0.3`);
    await page.getByRole('button', { name: 'Decide all in this view…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Decide every suggestion in this view' });
    await dialog.getByRole('button', { name: 'Count (dry run)' }).click();
    const count = dialog.getByTestId('bulk-dry-run-count');
    await count.waitFor();
    const wouldApprove = Number(
      /^(\d+) of \d+ matched would be approved/.exec(await count.innerText())![1],
    );
    expect(wouldApprove).toBeGreaterThan(0);
    // The dry run wrote nothing.
    expect(await approvedOf(other!.id)).toBe(0);
    await screenshot(page, 'queue-bulk');

    await dialog.getByRole('button', { name: `Approve ${wouldApprove}` }).click();
    await expect
      .poll(() => dialog.getByRole('status').innerText())
      .toMatch(new RegExp(`^${wouldApprove} suggestions? approved`));
    expect(await approvedOf(other!.id)).toBe(wouldApprove);

    expect(watched.offsite).toEqual([]);
    expect(watched.pageErrors).toEqual([]);
  });

  /** Suggestions of the tag this reviewer approved (the keyboard worked another tag). */
  async function approvedOf(tagId: string): Promise<number> {
    const [row] = await t.sql<{ n: number }>(
      `select count(*)::int as n from tag_suggestion
        where tag_id = ? and status = 'APPROVED' and reviewed_by = ?`,
      [tagId, REVIEWER],
    );
    return row!.n;
  }
});
