// Official ImageNet weights: the torch hub cache, the SHA-256 check and the offline message, with no
// network (a fake fetch stands in for the download).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hubCacheDir, PRETRAINED_FILES, resolvePretrained } from '../src/model/pretrained.js';
import type { Width } from '../src/model/shufflenet.js';

const bytes = new TextEncoder().encode('stand-in for a checkpoint');
const prefix = createHash('sha256').update(bytes).digest('hex').slice(0, 10);
const files = { ...PRETRAINED_FILES, x0_5: `shufflenetv2_x0.5-${prefix}.pth` } as Record<Width, string>;

function torchHome(): { env: NodeJS.ProcessEnv; dir: string } {
  const home = mkdtempSync(join(tmpdir(), 'torch-home-'));
  const env = { TORCH_HOME: home };
  return { env, dir: hubCacheDir(env) };
}

const noNetwork = (async () => {
  throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND download.pytorch.org') });
}) as unknown as typeof fetch;

const serving = (body: Uint8Array<ArrayBuffer>) =>
  (async () => new Response(body, { headers: { 'content-length': String(body.length) } })) as unknown as typeof fetch;

describe('pretrained weights', () => {
  it('uses $TORCH_HOME/hub/checkpoints, else ~/.cache/torch/hub/checkpoints', () => {
    expect(hubCacheDir({ TORCH_HOME: '/t' })).toBe('/t/hub/checkpoints');
    expect(hubCacheDir({ HOME: '/h' })).toMatch(/\.cache\/torch\/hub\/checkpoints$/);
  });

  it('takes a cached file without downloading', async () => {
    const { env, dir } = torchHome();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, files.x0_5), bytes);
    expect(await resolvePretrained('x0_5', { env, files, fetch: noNetwork, quiet: true })).toBe(join(dir, files.x0_5));
  });

  it('rejects a cached file whose SHA-256 does not match its name', async () => {
    const { env, dir } = torchHome();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, files.x0_5), 'damaged');
    await expect(resolvePretrained('x0_5', { env, files, fetch: noNetwork, quiet: true })).rejects.toThrow(/does not start with [0-9a-f]{10}.*--weights FILE/);
  });

  it('downloads, checks the hash and caches the file', async () => {
    const { env, dir } = torchHome();
    const path = await resolvePretrained('x0_5', { env, files, fetch: serving(bytes), quiet: true });
    expect(path).toBe(join(dir, files.x0_5));
    expect(readdirSync(dir)).toEqual([files.x0_5]);
  });

  it('refuses a download with the wrong hash and caches nothing', async () => {
    const { env, dir } = torchHome();
    await expect(resolvePretrained('x0_5', { env, files, fetch: serving(new TextEncoder().encode('something else')), quiet: true })).rejects.toThrow(/SHA-256/);
    expect(existsSync(join(dir, files.x0_5))).toBe(false);
  });

  it('offline: names the address and the --weights alternative', async () => {
    const { env } = torchHome();
    const error = await resolvePretrained('x1_0', { env, fetch: noNetwork, quiet: true }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('https://download.pytorch.org/models/shufflenetv2_x1-5666bf0f80.pth');
    expect((error as Error).message).toContain('ENOTFOUND');
    expect((error as Error).message).toContain('--weights FILE');
  });
});
