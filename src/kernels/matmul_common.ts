// What both matrix-multiply kernels (matmul.ts, tiled; matmul_direct.ts, registers only) share: the
// strided operand, a product's arguments, and the uniform parameters they are given.

import type { Binding } from '../gpu/context.js';
import type { MatmulTiling } from '../gpu/profile.js';
import type { EpilogueBindings } from './conv_common.js';

export interface Operand {
  binding: Binding;
  off: number;
  /** Stride between consecutive rows / columns / batches, in elements. */
  row: number;
  col: number;
  batch: number;
}

export interface MatmulArgs {
  M: number;
  N: number;
  K: number;
  a: Operand;
  b: Operand;
  c: Operand;
  /** Number of (A, B) batches summed; `splits` groups of them are written to C[0..splits). */
  batches: number;
  splits: number;
  /** Per output row (an output channel of a 1x1 convolution), or per column with epilogueOnColumns. */
  epilogue: EpilogueBindings;
  epilogueOnColumns?: boolean;
  tiling?: MatmulTiling;
}

const four = (x: number) => x % 4 === 0;

/** Whether B can be read in aligned vec4 runs along N: unit stride there, N, the offset and the other strides multiples of 4. */
export function quadsAlongN(b: Operand, N: number): boolean {
  return b.col === 1 && four(N) && four(b.off) && four(b.row) && four(b.batch);
}

/** Whether A can be read in aligned vec4 runs along K (as quadsAlongN, for A's rows). */
export function quadsAlongK(a: Operand, K: number): boolean {
  return a.col === 1 && four(K) && four(a.off) && four(a.row) && four(a.batch);
}

/** The uniform parameters both matrix-multiply kernels take. */
export const PARAMS = [
  'M',
  'N',
  'K',
  'aOff',
  'aRow',
  'aCol',
  'aBatch',
  'bOff',
  'bRow',
  'bCol',
  'bBatch',
  'cOff',
  'cRow',
  'cCol',
  'cBatch',
  'batches',
  'perSplit',
  'scaleOff',
  'shiftOff',
] as const;

/** Their values for a product. */
export function matmulParams(args: MatmulArgs): Record<(typeof PARAMS)[number], number> {
  const { a, b, c } = args;
  return {
    M: args.M,
    N: args.N,
    K: args.K,
    aOff: a.off,
    aRow: a.row,
    aCol: a.col,
    aBatch: a.batch,
    bOff: b.off,
    bRow: b.row,
    bCol: b.col,
    bBatch: b.batch,
    cOff: c.off,
    cRow: c.row,
    cCol: c.col,
    cBatch: c.batch,
    batches: args.batches,
    perSplit: Math.ceil(args.batches / args.splits),
    ...args.epilogue.offsets,
  };
}
