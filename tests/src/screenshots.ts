/**
 * Where the browser tests save their screenshots and PDFs for a person to look
 * at: tests/screenshots/ (git-ignored, kept after the run), and also the
 * folder named by KANJIA_SCREENSHOT_DIR when it is set (e.g. for the lead's
 * review). Returns every path written, for the test's log.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { REPO_ROOT } from './harness.js';

/** The folders a shot goes to, created. */
export function screenshotDirs(): string[] {
  const dirs = [join(REPO_ROOT, 'tests', 'screenshots'), ...(process.env.KANJIA_SCREENSHOT_DIR ? [process.env.KANJIA_SCREENSHOT_DIR] : [])];
  for (const dir of dirs) mkdirSync(dir, { recursive: true });
  return dirs;
}

/** Saves a screenshot of a page (its viewport, or all of it) or of one element as `name` (a .png file name) in every folder; the paths written. */
export async function saveScreenshot(target: Page | Locator, name: string, options: { fullPage?: boolean } = {}): Promise<string[]> {
  const bytes = 'goto' in target ? await target.screenshot({ fullPage: options.fullPage ?? false }) : await target.screenshot();
  return saveBytes(name, bytes);
}

/** Saves `bytes` (a PDF, a screenshot) as `name` in every folder; the paths written. */
export function saveBytes(name: string, bytes: Uint8Array): string[] {
  const paths = screenshotDirs().map((dir) => join(dir, name));
  for (const path of paths) writeFileSync(path, bytes);
  console.log(`saved ${paths.join(' and ')}`);
  return paths;
}
