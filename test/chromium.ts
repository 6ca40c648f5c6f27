// Debian's Chromium for the browser tests, driven by playwright-core (never a downloaded browser).
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const MISSING = `Chromium is not installed at ${CHROMIUM}. The browser tests drive Debian's chromium: apt-get update && apt-get install -y chromium (.ci/run does this)`;

export const hasChromium = () => existsSync(CHROMIUM);
/** `extraArgs` e.g. the fake camera: --use-fake-device-for-media-stream --use-fake-ui-for-media-stream. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...extraArgs] });
}
