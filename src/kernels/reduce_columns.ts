// Fused reduction for many short sums: out_k[o] = sum over (u, v) of expr_k(inputs), one invocation
// per output o, walking its whole (short) reduction serially: split-K partial products, pooling over
// small planes. No workgroup memory and no barriers. Shares its canonical form, input views and
// per-element code with reduce.ts (reduce_common.ts).

import { f32bits, type Gpu, memoKernel } from '../gpu/context.js';
import { type Expr, paramCount } from './expr.js';
import { type Canonical, inputValues, reduceParts, reduceSums } from './reduce_common.js';
import { type View, view } from './view.js';

/** The output: expression k's total for kept index (o1, o0). */
const OUT = view('out', ['K1', 'K0'], ['Expr']);

const kernel = memoKernel('reduce_columns', (sums: string, K: number, inputCount: number, floatParams: number, workgroup: number) => {
  const { params, bindings, accessors, bases, loads } = reduceParts(inputCount, floatParams);
  const range = Array.from({ length: K }, (_, k) => k);
  return {
    params: [...params, ...OUT.params],
    wgsl: /* wgsl */ `
${bindings}

${accessors}${OUT.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var o = gid.x; o < P.O; o += groups.x * ${workgroup}u) {
    let o1 = o / P.K0;
    let o0 = o % P.K0;
${bases}
${range.map((k) => `    var acc${k} = 0.0;`).join('\n')}
    for (var u = 0u; u < P.U; u++) {
      for (var v = 0u; v < P.V; v++) {
        if (u * P.V + v < P.total) {
${loads}
${sums}
        }
      }
    }
    let at = outBase(o1, o0);
${range.map((k) => `    out[outAt(at, ${k}u)] = acc${k};`).join('\n')}
  }
}
`,
  };
});

export function reduceColumns(gpu: Gpu, c: Canonical, exprs: Expr[], inputs: View[], out: View, exprStride: number, floats: readonly number[]): void {
  const workgroup = gpu.profile.workgroup;
  const floatCount = Math.max(0, ...exprs.map(paramCount));
  const target: View = { binding: out.binding, offset: out.offset, strides: [...c.kept[0], exprStride] };
  const values: Record<string, number> = { K0: c.K0, O: c.O, U: c.U, V: c.V, total: c.total, ...OUT.values(target), ...inputValues(c, inputs) };
  for (let i = 0; i < floatCount; i++) values[`f${i}`] = f32bits(floats[i]);
  const groups = Math.min(Math.ceil(c.O / workgroup), gpu.maxGroups);
  gpu.run(kernel(reduceSums(exprs), exprs.length, inputs.length, floatCount, workgroup), [out.binding, ...inputs.map((x) => x.binding)], [groups], values);
}
