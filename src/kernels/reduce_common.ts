// What both reduction kernels (reduce.ts, a workgroup per output; reduce_columns.ts, an invocation
// per output) share: the canonical (kept x reduced) form and the parameters, bindings and
// per-element code generated from it.

import { type Expr, toWgsl } from './expr.js';

export interface Canonical {
  K0: number;
  O: number;
  U: number;
  V: number;
  total: number;
  kept: number[][]; // per operand (out first): [k1, k0]
  reduced: number[][]; // per input: [su, sv]
}

/** The parameters, bindings and per-element code both reduction kernels share. */
export function reduceParts(exprs: Expr[], inputCount: number, floatParams: number) {
  const params = ['K0', 'O', 'U', 'V', 'total', 'uPer', 'out_off', 'out_k1', 'out_k0', 'out_split', 'out_expr'];
  for (let i = 0; i < inputCount; i++) params.push(...['off', 'k1', 'k0', 'su', 'sv'].map((s) => `in${i}_${s}`));
  for (let i = 0; i < floatParams; i++) params.push(`f${i}`);
  const bindings = ['@group(0) @binding(1) var<storage, read_write> out: array<f32>;'];
  for (let i = 0; i < inputCount; i++) bindings.push(`@group(0) @binding(${i + 2}) var<storage, read> in${i}: array<f32>;`);
  return {
    params,
    bindings: bindings.join('\n'),
    bases: Array.from({ length: inputCount }, (_, i) => `    let base${i} = P.in${i}_off + o1 * P.in${i}_k1 + o0 * P.in${i}_k0;`).join('\n'),
    loads: Array.from({ length: inputCount }, (_, i) => `          let x${i} = in${i}[base${i} + u * P.in${i}_su + v * P.in${i}_sv];`).join('\n'),
    sums: exprs
      .map(
        (e, k) =>
          `          acc${k} += ${toWgsl(
            e,
            (i) => `x${i}`,
            (i) => `bitcast<f32>(P.f${i})`,
          )};`,
      )
      .join('\n'),
  };
}
