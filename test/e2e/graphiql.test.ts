import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, openPage, screenshot } from '../support/browser.js';

describe('GraphiQL at GET /graphql, in a browser with no network but this server', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await createTestApp();
    base = await t.serve();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('asks for the key once, sends it as the Authorization header, and runs a saved example', async () => {
    const { page, offsite, pageErrors } = await openPage(browser, base);
    await page.goto('/graphql');
    await page.getByLabel('API key').fill(t.keys.ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in as test-ADMIN').waitFor();

    // The first saved tab asks who the key is: the answer can only hold the key's name if the
    // fetcher sent it. The editor loads its text a moment after the page shows.
    await expect
      .poll(() => page.locator('.graphiql-query-editor').innerText(), { timeout: 15_000 })
      .toContain('viewer');
    await page.locator('.graphiql-execute-button').click();
    // Monaco lays text out with no-break spaces.
    const response = async () =>
      (await page.locator('.graphiql-response').innerText()).replace(/\u00a0/g, ' ');
    await expect.poll(response, { timeout: 15_000 }).toMatch(/"name":\s+"test-ADMIN"/);

    // The schema's documentation comes from the server's introspection, not from elsewhere.
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    await page.getByText('Query', { exact: true }).first().waitFor();
    await screenshot(page, 'graphiql');

    // Reloading keeps the key for this tab: nothing to enter again.
    await page.reload();
    await page.getByText('Signed in as test-ADMIN').waitFor();

    expect(offsite).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('refuses a wrong key with the API’s message and shows no IDE', async () => {
    const { page, offsite } = await openPage(browser, base);
    await page.goto('/graphql');
    await page.getByLabel('API key').fill('tw_not-a-key-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/key/i);
    expect(await page.locator('.graphiql-container').count()).toBe(0);
    expect(offsite).toEqual([]);
  });
});
