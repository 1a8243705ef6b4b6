/** Headless Debian Chromium driven by playwright-core (no browser download). */
import { chromium, type Browser, type Page } from 'playwright-core';
import { TEST_PASSWORD } from './harness.js';

export const CHROMIUM = process.env.KANJIA_CHROMIUM ?? '/usr/bin/chromium';

/** Launches Chromium; `extraArgs` are added to the command line (e.g. a certificate pin). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The machine has no network but loopback: keep Chromium from calling home.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', ...extraArgs],
  });
}

/** Fills the dashboard's login form of `page` as `name` (the tests' password) and submits it. */
export async function logIn(page: Page, name: string, password = TEST_PASSWORD): Promise<void> {
  await page.getByTestId('login-name').fill(name);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}
