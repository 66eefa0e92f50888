// Fused reduction for many short sums: out_k[o] = sum over (u, v) of expr_k(inputs), one invocation
// per output o, walking its whole (short) reduction serially: split-K partial products, pooling over
// small planes. No workgroup memory and no barriers. Shares its canonical form and parameters with
// reduce.ts.

import type { Gpu, Kernel } from '../gpu/context.js';
import { f32bits } from '../gpu/context.js';
import { type Expr, paramCount } from './expr.js';
import type { StridedOperand } from './layout.js';
import { type Canonical, reduceParts } from './reduce_common.js';

function kernel(exprs: Expr[], inputCount: number, floatParams: number, workgroup: number): Kernel {
  const { params, bindings, bases, loads, sums } = reduceParts(exprs, inputCount, floatParams);
  const range = Array.from({ length: exprs.length }, (_, k) => k);
  return {
    name: 'reduce_columns',
    params,
    wgsl: /* wgsl */ `
${bindings}

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
    let at = P.out_off + o1 * P.out_k1 + o0 * P.out_k0;
${range.map((k) => `    out[at + ${k}u * P.out_expr] = acc${k};`).join('\n')}
  }
}
`,
  };
}

export function reduceColumns(
  gpu: Gpu,
  c: Canonical,
  exprs: Expr[],
  inputs: StridedOperand[],
  out: StridedOperand,
  exprStride: number,
  floats: readonly number[],
): void {
  const workgroup = gpu.profile.workgroup;
  const floatCount = Math.max(0, ...exprs.map(paramCount));
  const values: Record<string, number> = {
    K0: c.K0,
    O: c.O,
    U: c.U,
    V: c.V,
    total: c.total,
    uPer: c.U,
    out_off: out.offset,
    out_k1: c.kept[0][0],
    out_k0: c.kept[0][1],
    out_split: 0,
    out_expr: exprStride,
  };
  inputs.forEach((x, i) => {
    Object.assign(values, {
      [`in${i}_off`]: x.offset,
      [`in${i}_k1`]: c.kept[i + 1][0],
      [`in${i}_k0`]: c.kept[i + 1][1],
      [`in${i}_su`]: c.reduced[i][0],
      [`in${i}_sv`]: c.reduced[i][1],
    });
  });
  for (let i = 0; i < floatCount; i++) values[`f${i}`] = f32bits(floats[i]);
  const groups = Math.min(Math.ceil(c.O / workgroup), gpu.maxGroups);
  gpu.run(kernel(exprs, inputs.length, floatCount, workgroup), [out.binding, ...inputs.map((x) => x.binding)], [groups], values);
}
