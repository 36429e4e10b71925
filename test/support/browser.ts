import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './processes.js';

/** Debian's Chromium (`apt-get install chromium`); the tests never download a browser. */
export const CHROMIUM = process.env.TAGWISE_CHROMIUM ?? '/usr/bin/chromium';

/** Screenshots the README links to: the tests write them on every run. */
export const SCREENSHOTS = path.join(ROOT, 'web/screenshots');

/**
 * Chromium headless, with its own background traffic off (this machine's network is closed, and
 * a console must not need one): the flags the developers' guide names.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(path.join(ROOT, 'web/dist/index.html'))) {
    throw new Error('web/dist is not built: run `npm run build:web` (npm install runs it)');
  }
  return launchChromium();
}

/** The launch alone, for bench/console.ts too. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface WatchedPage {
  page: Page;
  /** Requests the page made to any host but the server under test (each was refused). */
  offsite: string[];
  /** Errors the page threw or logged to its console. */
  pageErrors: string[];
}

/**
 * A fresh page (its own storage) whose requests beyond `base`'s origin are refused and recorded:
 * a page that needed the network would fail visibly, and the test can assert none was tried.
 */
export async function openPage(browser: Browser, base: string): Promise<WatchedPage> {
  const context = await browser.newContext({
    baseURL: base,
    viewport: { width: 1280, height: 800 },
  });
  const page = await context.newPage();
  const origin = new URL(base).origin;
  const offsite: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    // data: and blob: URLs (fonts, workers) never leave the page.
    if (url.startsWith(origin) || /^(data|blob):/.test(url)) return route.continue();
    offsite.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  return { page, offsite, pageErrors };
}

/** Signs in through the console's form with `key`. */
export async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
