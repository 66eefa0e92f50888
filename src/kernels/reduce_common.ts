// What both reduction kernels (reduce.ts, a workgroup per output; reduce_columns.ts, an invocation
// per output) share: the canonical (kept x reduced) form, the input views and the bindings and
// per-element code generated from them.

import { type Expr, toWgsl } from './expr.js';
import { type View, type ViewAccessor, view } from './view.js';

export interface Canonical {
  K0: number;
  O: number;
  U: number;
  V: number;
  total: number;
  kept: number[][]; // per operand (out first): [k1, k0]
  reduced: number[][]; // per input: [su, sv]
}

const inputViews: ViewAccessor[] = [];

/** Input i as both kernels address it: a base per kept index (o1, o0), then (u, v) along the reduction. */
function inputView(i: number): ViewAccessor {
  inputViews[i] ??= view(`in${i}`, ['K1', 'K0'], ['U', 'V']);
  return inputViews[i];
}

/** The uniform values of the inputs in canonical form `c`. */
export function inputValues(c: Canonical, inputs: readonly View[]): Record<string, number> {
  const values: Record<string, number> = {};
  inputs.forEach((x, i) => Object.assign(values, inputView(i).values({ ...x, strides: [...c.kept[i + 1], ...c.reduced[i]] })));
  return values;
}

/** The WGSL of the running sums, `acc_k += expr_k(x0, x1, ...)`: part of the kernels' variant key. */
export function reduceSums(exprs: Expr[]): string {
  return exprs
    .map(
      (e, k) =>
        `          acc${k} += ${toWgsl(
          e,
          (i) => `x${i}`,
          (i) => `bitcast<f32>(P.f${i})`,
        )};`,
    )
    .join('\n');
}

/** The parameters, bindings, accessors and per-element loads both reduction kernels share (the output view is each kernel's own). */
export function reduceParts(inputCount: number, floatParams: number) {
  const inputs = Array.from({ length: inputCount }, (_, i) => inputView(i));
  const params = ['K0', 'O', 'U', 'V', 'total', ...inputs.flatMap((x) => x.params)];
  for (let i = 0; i < floatParams; i++) params.push(`f${i}`);
  const bindings = ['@group(0) @binding(1) var<storage, read_write> out: array<f32>;'];
  for (let i = 0; i < inputCount; i++) bindings.push(`@group(0) @binding(${i + 2}) var<storage, read> in${i}: array<f32>;`);
  return {
    params,
    bindings: bindings.join('\n'),
    accessors: inputs.map((x) => x.wgsl).join(''),
    bases: inputs.map((_, i) => `    let base${i} = in${i}Base(o1, o0);`).join('\n'),
    loads: inputs.map((_, i) => `          let x${i} = in${i}[in${i}At(base${i}, u, v)];`).join('\n'),
  };
}
