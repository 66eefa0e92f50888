// The run folder: a new <save_ret>/exp<N> per run (never an earlier one), files written atomically
// (a temporary file renamed over the target, so a kill never leaves half a file); the CSV of
// validation predictions lives in predictions.ts (browser-safe). A failed write (a full disk) removes
// its temporary file and names the file it was writing; temporary files left by a killed process
// are removed when the run resumes.

import { accessSync, constants, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function existsLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Checks, before any work, that `folder` is (or can be created as) a writable folder; `flag` names it. */
export function checkWritableFolder(folder: string, flag: string): void {
  let existing = resolve(folder);
  for (;;) {
    try {
      if (!statSync(existing).isDirectory()) throw new WriteError(`${flag}: ${existing} is a file, not a folder: choose another ${flag}`);
      break;
    } catch (e) {
      if (e instanceof WriteError) throw e;
      if (existsLink(existing)) throw new WriteError(`${flag}: ${existing} is a symbolic link to nothing (or a loop of links): choose another ${flag}`);
      if (dirname(existing) === existing) throw new WriteError(`${flag}: ${folder} cannot be created: ${(e as Error).message}`);
      existing = dirname(existing);
    }
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch {
    throw new WriteError(`${flag}: ${existing} is not writable: choose another ${flag}`);
  }
}

/** Creates and returns the first free <root>/exp<N> (N = 1, 2, ...). */
export function createRunDir(root: string): string {
  try {
    mkdirSync(root, { recursive: true });
  } catch (e) {
    throw new WriteError(`--save_ret: cannot create ${root}: ${(e as Error).message}`);
  }
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

const PARTIAL = /\.partial-(\d+)$/;

/** Whether a process with this id runs (then its temporary files are its own business). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const WRITE_PROBLEMS: Record<string, string> = {
  ENOSPC: 'no space left on the device: free some space',
  EDQUOT: 'the disk quota is used up: free some space',
  EFBIG: 'the file is larger than this process may write (ulimit -f)',
  EACCES: 'permission denied',
  EROFS: 'the file system is read-only',
};

export class WriteError extends Error {
  override name = 'WriteError';
}

/** Writes through `<path>.partial-<pid>`, renamed into place: a kill leaves the previous version of `path` whole. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const temporary = `${path}.partial-${process.pid}`;
  try {
    writeFileSync(temporary, data);
    renameSync(temporary, path);
  } catch (e) {
    rmSync(temporary, { force: true });
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new WriteError(
      `cannot write ${path}: ${WRITE_PROBLEMS[code] ?? (e as Error).message}${code ? ` (${code})` : ''}; its previous version, if any, is kept`,
    );
  }
}

/** Removes the temporary files that killed processes left in `dir` (not in its subfolders); returns their names. */
export function removePartialFiles(dir: string): string[] {
  const partial = readdirSync(dir).filter((name) => {
    const pid = PARTIAL.exec(name)?.[1];
    return pid !== undefined && (Number(pid) === process.pid || !running(Number(pid)));
  });
  for (const name of partial) rmSync(join(dir, name), { force: true });
  return partial;
}

export function writeJson(path: string, value: unknown): void {
  writeAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

export { type PredictionRow, predictionsCsv } from './predictions.js';
