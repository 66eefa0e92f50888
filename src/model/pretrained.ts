// torchvision's ImageNet weights for each width: taken from the torch hub cache when there
// ($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints), else downloaded from the
// official address with a progress bar, checked against the SHA-256 prefix in the file name, and
// cached (written to a temporary file, then renamed). Node only.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ProgressBar } from '../util/progress.js';
import type { Width } from './shufflenet.js';

export const PRETRAINED_FILES: Record<Width, string> = {
  x0_5: 'shufflenetv2_x0.5-f707e7126e.pth',
  x1_0: 'shufflenetv2_x1-5666bf0f80.pth',
  x1_5: 'shufflenetv2_x1_5-3c479a10.pth',
  x2_0: 'shufflenetv2_x2_0-8be3c8ee.pth',
};

const BASE_URL = 'https://download.pytorch.org/models/';

export class PretrainedError extends Error {
  override name = 'PretrainedError';
}

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const torchHome = env.TORCH_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'torch');
  return join(torchHome, 'hub', 'checkpoints');
}

/** The hex prefix of the file's SHA-256, as torch hub names it: `name-<prefix>.pth`. */
function expectedHashPrefix(file: string): string {
  const match = /-([0-9a-f]{6,})\.pth$/.exec(file);
  if (!match) throw new Error(`no hash in ${file}`);
  return match[1];
}

function checkHash(bytes: Uint8Array, file: string, where: string): void {
  const digest = createHash('sha256').update(bytes).digest('hex');
  const prefix = expectedHashPrefix(file);
  if (!digest.startsWith(prefix)) {
    throw new PretrainedError(
      `${where}: SHA-256 ${digest.slice(0, 16)}... does not start with ${prefix} as the official ${file} does (a damaged or different file). Delete it and try again, or pass --weights FILE.`,
    );
  }
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** The fetch to download with (tests pass their own). */
  fetch?: typeof fetch;
  /** File names per width (tests pass names whose hash prefix fits their own bytes). */
  files?: Record<Width, string>;
  quiet?: boolean;
}

/** Path of the verified official checkpoint for `width`, downloading it if needed. */
export async function resolvePretrained(width: Width, options: ResolveOptions = {}): Promise<string> {
  const file = (options.files ?? PRETRAINED_FILES)[width];
  const url = BASE_URL + file;
  const dir = hubCacheDir(options.env);
  const path = join(dir, file);
  if (existsSync(path)) {
    checkHash(readFileSync(path), file, path);
    return path;
  }
  const offlineHelp = `Download ${url} yourself and put it in ${dir}, or pass --weights FILE (a torchvision ShuffleNet V2 ${width} checkpoint), or --pretrained false to start from random weights.`;
  let bytes: Uint8Array;
  try {
    const response = await (options.fetch ?? fetch)(url);
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    const total = Number(response.headers.get('content-length') ?? 0);
    const bar = options.quiet ? null : new ProgressBar({ total, label: `downloading ${file}`, unit: 'B' });
    const chunks: Uint8Array[] = [];
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      bar?.tick(chunk.length);
    }
    bar?.finish();
    bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
  } catch (e) {
    const reason = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new PretrainedError(`Could not download the ImageNet weights from ${url} (${reason}). ${offlineHelp}`);
  }
  checkHash(bytes, file, url);
  mkdirSync(dir, { recursive: true });
  const partial = `${path}.partial-${process.pid}`;
  writeFileSync(partial, bytes);
  renameSync(partial, path);
  return path;
}
