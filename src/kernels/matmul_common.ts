// What both matrix-multiply kernels (matmul.ts, tiled; matmul_direct.ts, registers only) share: a
// product's arguments, its operands' views and the uniform parameters they are given.
//
// Every operand is a View with strides [batch, row, column]: element (r, c) of batch b sits at
// offset + b*batch + r*row + c*col, so transposes and channel slices need no copies.

import type { Binding } from '../gpu/context.js';
import type { MatmulTiling } from '../gpu/profile.js';
import { EPILOGUE_PARAMS, type EpilogueBindings } from './conv_common.js';
import { type View, view } from './view.js';

export interface MatmulArgs {
  M: number;
  N: number;
  K: number;
  /** A is M x K, B is K x N, C is M x N, each per batch. */
  a: View;
  b: View;
  c: View;
  /** Number of (A, B) batches summed; `splits` groups of them are written to C[0..splits). */
  batches: number;
  splits: number;
  /** Per output row (an output channel of a 1x1 convolution), or per column with epilogueOnColumns. */
  epilogue: EpilogueBindings;
  epilogueOnColumns?: boolean;
  tiling?: MatmulTiling;
}

export const A = view('a', ['Batch'], ['M', 'K']);
export const B = view('b', ['Batch'], ['K', 'N']);
export const C = view('c', ['Batch'], ['M', 'N']);

/** A matrix operand: `row` and `col` step along its two dimensions, `batch` from one batch to the next (0: shared). */
export function matrix(binding: Binding, offset: number, row: number, col: number, batch = 0): View {
  return { binding, offset, strides: [batch, row, col] };
}

/** The same operand read transposed (rows and columns swapped). */
export function transposed(m: View): View {
  const [batch, row, col] = m.strides;
  return { binding: m.binding, offset: m.offset, strides: [batch, col, row] };
}

const four = (x: number) => x % 4 === 0;

/** Whether `m` can be read in aligned vec4 runs along its columns: unit stride there, the column count, the offset and the other strides multiples of 4. */
export function quadsAlongColumns(m: View, columns: number): boolean {
  const [batch, row, col] = m.strides;
  return col === 1 && four(columns) && four(m.offset) && four(row) && four(batch);
}

/** The uniform parameters both matrix-multiply kernels take. */
export const PARAMS = ['M', 'N', 'K', ...A.params, ...B.params, ...C.params, 'batches', 'perSplit', ...EPILOGUE_PARAMS] as const;

/** Their values for a product. */
export function matmulParams(args: MatmulArgs): Record<string, number> {
  return {
    M: args.M,
    N: args.N,
    K: args.K,
    ...A.values(args.a),
    ...B.values(args.b),
    ...C.values(args.c),
    batches: args.batches,
    perSplit: Math.ceil(args.batches / args.splits),
    ...args.epilogue.offsets,
  };
}
