// The deterministic weights and inputs of scripts/fixtures/make_model_fixtures.py, computed the same
// way here (uint32 arithmetic, then float64, then rounding to float32), so the model fixtures need
// no committed weights.

import type { StateDict } from '../../src/model/checkpoint/index.js';
import type { Module } from '../../src/model/module.js';
import { Counter } from '../../src/model/module.js';

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** n values in [-1, 1): murmur3's finaliser over (index * golden ratio) ^ fnv1a(key). */
export function det(key: string, n: number): Float64Array {
  const h = fnv1a(key);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = (Math.imul(i, 0x9e3779b1) ^ h) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    x = Math.imul(x, 0x85ebca6b) >>> 0;
    x = (x ^ (x >>> 13)) >>> 0;
    x = Math.imul(x, 0xc2b2ae35) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    out[i] = 2 * (x / 2 ** 32) - 1;
  }
  return out;
}

/**
 * Batch-norm weights bnScale + 0.1 * det, shifts bnShift + 0.1 * det, running variances
 * runningVar * (1 + 0.25 * det) (det_value's bn_scale, bn_shift, running_var).
 */
export interface BatchNormInit {
  bnScale: number;
  bnShift: number;
  runningVar: number;
}

/** The model fixtures' default: shifts near 1 leave most ReLUs on. */
export const MOSTLY_ON: BatchNormInit = { bnScale: 0.5, bnShift: 1, runningVar: 1 };

function detValue(key: string, shape: readonly number[], init: BatchNormInit): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = det(key, n);
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  const f = (v: number): number => {
    if (key.endsWith('running_mean')) return 0.1 * v;
    if (key.endsWith('running_var')) return init.runningVar * (1 + 0.25 * v);
    if (shape.length === 4) return v * Math.sqrt(5 / fanIn);
    if (key === 'fc.weight') return v / Math.sqrt(shape[1]);
    if (key.endsWith('weight')) return init.bnScale + 0.1 * v;
    if (key === 'fc.bias') return 0.1 * v;
    return init.bnShift + 0.1 * v;
  };
  return Float32Array.from(d, f);
}

/** The fixture state of `model` (every entry from the formula, num_batches_tracked 0). */
export function deterministicState(model: Module, init: BatchNormInit = MOSTLY_ON): StateDict {
  const sd: StateDict = new Map();
  for (const [key, entry] of model.namedState()) {
    if (entry instanceof Counter) sd.set(key, { dtype: 'int64', shape: [], data: BigInt64Array.of(0n) });
    else sd.set(key, { dtype: 'float32', shape: [...entry.shape], data: detValue(key, entry.shape, init) });
  }
  return sd;
}

/** The fixture input batch [batch, 3, size, size]. */
export function deterministicInput(key: string, batch: number, size: number): Float32Array {
  return Float32Array.from(det(key, batch * 3 * size * size), (v) => 2 * v);
}
