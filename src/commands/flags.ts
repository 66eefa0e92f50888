// Parsing command-line values with messages that name the flag.

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
