// Parsing command-line values, and the JSON files they name, with messages that name the flag and
// the file.

import { readRegularFile } from '../util/read_file.js';

/** The largest JSON file read (class_indices.json, train_info.json). */
const MAX_JSON_BYTES = 64 << 20;

/** Accepts true/false, yes/no, 1/0 (the seed's type=bool could not be switched off). */
export function parseBoolean(flag: string) {
  return (value: unknown): boolean => {
    if (typeof value === 'boolean') return value;
    const s = String(value).toLowerCase();
    if (['true', 'yes', '1'].includes(s)) return true;
    if (['false', 'no', '0'].includes(s)) return false;
    throw new Error(`--${flag} takes true or false, not '${value}'`);
  };
}

export function positiveInteger(flag: string) {
  return (value: unknown): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a whole number of at least 1, not '${value}'`);
    return n;
  };
}

export function positiveNumber(flag: string, value: unknown): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${flag} must be a positive number, not '${value}'`);
  return n;
}

/** A finite number in [min, max); `range` says that in words, for the message. */
export function numberInRange(flag: string, value: unknown, min: number, max: number, range: string): number {
  const n = String(value).trim() === '' ? NaN : Number(value);
  if (!(n >= min && n < max)) throw new Error(`--${flag} must be ${range}, not '${value}'`);
  return n;
}

/** A TCP port: 0 (any free one) to 65535. */
export function port(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535 || String(value).trim() === '')
    throw new Error(`--port must be a whole number from 0 to 65535, not '${value}'`);
  return n;
}

/** Reads and parses a JSON file; `what` says where it came from ("--class-indices", "--resume"), for the message. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder().decode(readRegularFile(path, MAX_JSON_BYTES, 'a JSON file'));
  } catch (e) {
    throw new Error(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: ${path} is not valid JSON (${(e as Error).message})`);
  }
}
