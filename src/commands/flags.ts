// Parsing command-line values, and the JSON files they name, with messages that name the flag and
// the file.

import { settingChecks } from '../train/settings.js';
import { readRegularFile } from '../util/read_file.js';

/** The largest JSON file read (class_indices.json, train_info.json). */
const MAX_JSON_BYTES = 64 << 20;

/** The checks of src/train/settings.ts, naming each flag `--flag`. */
export const flagChecks = settingChecks('--');

/** true/false, yes/no, 1/0, as a yargs coerce. */
export function parseBoolean(flag: string) {
  return (value: unknown): boolean => flagChecks.boolean(flag, value);
}

/** A whole number of at least 1, as a yargs coerce. */
export function positiveInteger(flag: string) {
  return (value: unknown): number => flagChecks.wholeNumber(flag, value, 1);
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
