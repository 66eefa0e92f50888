// Debian's Chromium with WebGPU on SwiftShader, headless, driven by playwright-core (no downloaded
// browser). Found by experiment with Chromium 156 on a machine without a GPU:
// - --enable-unsafe-webgpu is the flag that matters: without it requestAdapter() finds no adapter
//   ("No available adapters") and the page shows its no-WebGPU message.
// - WebGPU exists only in secure contexts: the page must come from http://127.0.0.1 (a data: URL
//   has no navigator.gpu).
// - --enable-unsafe-swiftshader, --use-angle=swiftshader and --disable-gpu-sandbox were not needed
//   here (Chromium falls back to SwiftShader by itself, and reports vendor 'google', architecture
//   'swiftshader'), but are kept for Chromium versions and machines that want them.
// - Playwright refuses --user-data-dir among the arguments: a fresh profile folder goes to
//   launchPersistentContext instead.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--no-sandbox',
  '--use-angle=swiftshader',
  '--disable-gpu-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A browser with a fresh profile, removed on close. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (the browser tests use Debian's Chromium and its SwiftShader)`);
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 } });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
