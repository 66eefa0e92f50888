// What every front end of training shares (the CLI's `train` flags, the page's Train view): the
// seed's defaults by flag name, the optimizers, and the checks of a setting's value, whose messages
// name the setting as the front end spells it (`--lr` on the command line, `lr` on the page).

import type { OptimizerName } from './core.js';

export const OPTIMIZERS: readonly OptimizerName[] = ['SGD', 'Adam', 'AdamW'];

/** The seed's defaults, by flag name. */
export const TRAIN_DEFAULTS = {
  model: 'x0_5',
  pretrained: true,
  freeze_layers: true,
  'batch-size': 8,
  epochs: 10,
  optim: 'SGD',
  lr: 0.01,
  lrf: 0.001,
  save_ret: 'runs',
  data_train: './data/train',
  data_val: './data/val',
  'img-size': 224,
  seed: 0,
  augment: true,
  shuffle: true,
  momentum: 0.9,
  balanced: false,
  'best-metric': 'accuracy',
  'frozen-bn': 'train',
} as const;

/** A setting that cannot be used; the message names it and says what it takes. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** Value checks naming each setting `${prefix}${name}`. */
export function settingChecks(prefix: string) {
  const named = (name: string) => `${prefix}${name}`;
  const blank = (value: unknown) => String(value).trim() === '';
  const positiveNumber = (name: string, value: unknown): number => {
    const n = Number(value);
    if (blank(value) || !(n > 0) || !Number.isFinite(n)) throw new SettingsError(`${named(name)} must be a positive number, not '${value}'`);
    return n;
  };
  return {
    positiveNumber,
    /** A whole number from `min` (to `max`, when it has one). */
    wholeNumber(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
      const n = Number(value);
      if (blank(value) || !Number.isInteger(n) || n < min || n > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
        throw new SettingsError(`${named(name)} must be a whole number ${range}, not '${value}'`);
      }
      return n;
    },
    /** A finite number in [min, max); `range` says that in words, for the message. */
    numberInRange(name: string, value: unknown, min: number, max: number, range: string): number {
      const n = blank(value) ? Number.NaN : Number(value);
      if (!(n >= min && n < max)) throw new SettingsError(`${named(name)} must be ${range}, not '${value}'`);
      return n;
    },
    /** true/false, yes/no, 1/0 (the seed's type=bool could not be switched off). */
    boolean(name: string, value: unknown): boolean {
      if (typeof value === 'boolean') return value;
      const s = String(value).toLowerCase();
      if (['true', 'yes', '1'].includes(s)) return true;
      if (['false', 'no', '0'].includes(s)) return false;
      throw new SettingsError(`${named(name)} takes true or false, not '${value}'`);
    },
    oneOf<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
      if (!choices.includes(value as T)) throw new SettingsError(`${named(name)} must be one of ${choices.join(', ')}, not '${value}'`);
      return value as T;
    },
    /** The cosine schedule's final learning rate, a fraction of lr: in (0, 1]. */
    finalLrFraction(value: unknown): number {
      const lrf = positiveNumber('lrf', value);
      if (lrf > 1) throw new SettingsError(`${named('lrf')} is the final learning rate as a fraction of ${named('lr')}, at most 1, not '${value}'`);
      return lrf;
    },
  };
}
