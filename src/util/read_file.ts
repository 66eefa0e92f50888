// Reading a file named by the user without trusting what it is: only a regular file, at most
// `maxBytes`, opened without blocking (a FIFO or a device given as an image, weights or JSON would
// otherwise hang the process or be read without end). Node-only. Failures are ReadFileError, with a
// message that says what is wrong and leaves naming the file to the caller.

import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

export class ReadFileError extends Error {
  override name = 'ReadFileError';
}

const FS_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file (or a symbolic link to nothing)',
  EACCES: 'permission denied',
  ELOOP: 'a loop of symbolic links',
};

/** One line for a failed file-system call. */
function problem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && FS_PROBLEMS[code]) ?? (e as Error).message;
}

function kind(st: Stats, what: string): string {
  if (st.isDirectory()) return `a folder, not ${what}`;
  if (st.isFIFO()) return 'a named pipe (FIFO), not a regular file: only regular files are read';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device, not a regular file: only regular files are read';
  return 'not a regular file: only regular files are read';
}

/** The bytes of `path`; `what` ('an image file') words the messages. */
export function readRegularFile(path: string, maxBytes: number, what: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new ReadFileError(problem(e));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ReadFileError(kind(st, what));
    if (st.size > maxBytes) throw new ReadFileError(`${st.size} bytes is more than the ${maxBytes} bytes ${what} may have`);
    const bytes = new Uint8Array(st.size);
    let length = 0;
    while (length < st.size) {
      const n = readSync(fd, bytes, length, st.size - length, length);
      if (n === 0) break;
      length += n;
    }
    return bytes.subarray(0, length);
  } catch (e) {
    throw e instanceof ReadFileError ? e : new ReadFileError(problem(e));
  } finally {
    closeSync(fd);
  }
}
