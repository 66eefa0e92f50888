// The run folder: a new <save_ret>/exp<N> per run (never an earlier one), files written atomically
// (a temporary file renamed over the target, so a kill never leaves half a file); the CSV of
// validation predictions lives in predictions.ts (browser-safe).

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Creates and returns the first free <root>/exp<N> (N = 1, 2, ...). */
export function createRunDir(root: string): string {
  mkdirSync(root, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = join(root, `exp${n}`);
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new Error(`--save_ret: cannot create ${dir}: ${(e as Error).message}`);
    }
    mkdirSync(join(dir, 'weights'));
    return dir;
  }
}

export function writeAtomic(path: string, data: string | Uint8Array): void {
  const temporary = `${path}.partial-${process.pid}`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

export function writeJson(path: string, value: unknown): void {
  writeAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

export { type PredictionRow, predictionsCsv } from './predictions.js';
