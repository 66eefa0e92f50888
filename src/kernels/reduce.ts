// Fused reduction: out_k[o] = sum over the reduced dimensions of expr_k(in0, in1, ...), for K
// expressions at once (one pass over memory). Serves batch-norm backward (two channel sums), bias
// gradients, broadcast gradients (sum back to a shape), global average pooling and loss means.
//
// Tiling: kept dimensions merge into at most two (o1, o0), reduced ones into at most two (u, v).
// Short reductions over many outputs (split-K partial sums, pooling) go to reduce_columns.ts, one
// invocation per output. Otherwise a workgroup owns one output index o and a slice of u; its
// invocations stride over v, each keeping K running sums, then a workgroup sum (workgroup_reduce.ts).
// Long reductions are split over u into partial sums and a second pass adds the partials.

import { f32bits, type Gpu, memoKernel } from '../gpu/context.js';
import { type Expr, paramCount } from './expr.js';
import { mergeDims, padRank } from './layout.js';
import { type Canonical, inputValues, reduceParts, reduceSums } from './reduce_common.js';
import { reduceColumns } from './reduce_columns.js';
import { type View, view } from './view.js';
import { blockSum } from './workgroup_reduce.js';

/** The output: expression k's total for kept index (o1, o0) of split `split` (partial sums, or the result when there is one split). */
const OUT = view('out', ['Split', 'K1', 'K0'], ['Expr']);

const kernel = memoKernel('reduce', (sums: string, K: number, inputCount: number, floatParams: number, workgroup: number) => {
  const { params, bindings, accessors, bases, loads } = reduceParts(inputCount, floatParams);
  const range = Array.from({ length: K }, (_, k) => k);
  return {
    params: [...params, 'uPer', ...OUT.params],
    wgsl: /* wgsl */ `
${bindings}

${accessors}${OUT.wgsl}
${blockSum('workgroupSum', workgroup, K, true)}
@compute @workgroup_size(${workgroup})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let split = wg.y;
  let firstU = split * P.uPer;
  let lastU = min(firstU + P.uPer, P.U);
  for (var o = wg.x; o < P.O; o += groups.x) {
    let o1 = o / P.K0;
    let o0 = o % P.K0;
${bases}
${range.map((k) => `    var acc${k} = 0.0;`).join('\n')}
    for (var u = firstU; u < lastU; u++) {
      for (var v = lid; v < P.V; v += ${workgroup}u) {
        if (u * P.V + v < P.total) {
${loads}
${sums}
        }
      }
    }
    // Summed again for the next o: finalSync keeps the scratch until every invocation has its totals.
    let totals = workgroupSum(lid, array<f32, ${K}>(${range.map((k) => `acc${k}`).join(', ')}));
    if (lid == 0u) {
      let at = outBase(split, o1, o0);
${range.map((k) => `      out[outAt(at, ${k}u)] = totals[${k}];`).join('\n')}
    }
  }
}
`,
  };
});

/** Splits the iteration space into kept (<= 2 merged dims) and reduced (<= 2 merged dims) parts. */
function canonical(
  shape: readonly number[],
  reduce: readonly boolean[],
  out: readonly number[],
  inputs: readonly (readonly number[])[],
  perWorkgroup: number,
): Canonical {
  const keptDims = shape.map((_, d) => d).filter((d) => !reduce[d]);
  const reducedDims = shape.map((_, d) => d).filter((d) => reduce[d]);
  const pick = (dims: number[], s: readonly number[]) => dims.map((d) => s[d]);
  const kept = mergeDims(
    pick(keptDims, shape),
    [out, ...inputs].map((s) => pick(keptDims, s)),
  );
  const keptPadded = padRank(kept.shape, kept.strides, 2);
  const red = mergeDims(
    pick(reducedDims, shape),
    inputs.map((s) => pick(reducedDims, s)),
  );
  const redPadded = padRank(red.shape, red.strides, 2);
  let [U, V] = redPadded.shape;
  let reduced = redPadded.strides;
  const total = U * V;
  if (U === 1 && V > 2 * perWorkgroup) {
    // One long run: cut it into rows so that it can be split across workgroups.
    U = Math.ceil(V / perWorkgroup);
    V = perWorkgroup;
    reduced = reduced.map(([, sv]) => [sv * V, sv]);
  }
  return { K0: keptPadded.shape[1], O: keptPadded.shape[0] * keptPadded.shape[1], U, V, total, kept: keptPadded.strides, reduced };
}

/**
 * Sums each of `exprs` over the dimensions where `reduce` is true, writing expression k's result for
 * kept index o to `out` at out.offset + k * exprStride + sum(kept index * out.strides).
 */
export function reduce(
  gpu: Gpu,
  exprs: Expr[],
  inputs: View[],
  out: View,
  exprStride: number,
  shape: readonly number[],
  reduceDims: readonly boolean[],
  floats: readonly number[] = [],
): void {
  const profile = gpu.profile;
  const perWorkgroup = profile.reduceElementsPerWorkgroup;
  const c = canonical(
    shape,
    reduceDims,
    out.strides,
    inputs.map((x) => x.strides),
    perWorkgroup,
  );
  if (c.total <= profile.serialBelow || (c.O >= profile.serialManyOutputs.outputs && c.total <= profile.serialManyOutputs.length)) {
    reduceColumns(gpu, c, exprs, inputs, out, exprStride, floats);
    return;
  }
  const workgroup = gpu.profile.reductionWorkgroup;
  const floatCount = Math.max(0, ...exprs.map(paramCount));
  const maxGroups = gpu.maxGroups;
  const splits = Math.max(1, Math.min(c.U, Math.ceil(c.total / perWorkgroup), Math.ceil(profile.reductionTarget / c.O)));
  const uPer = Math.ceil(c.U / splits);
  const partials = splits > 1 ? gpu.pool.acquire(splits * c.O * exprs.length * 4) : null;
  const first: View = partials
    ? { binding: { buffer: partials }, offset: 0, strides: [c.O, c.K0, 1, splits * c.O] }
    : { binding: out.binding, offset: out.offset, strides: [0, ...c.kept[0], exprStride] };
  const values: Record<string, number> = { K0: c.K0, O: c.O, U: c.U, V: c.V, total: c.total, uPer, ...OUT.values(first), ...inputValues(c, inputs) };
  for (let i = 0; i < floatCount; i++) values[`f${i}`] = f32bits(floats[i]);
  const variant = kernel(reduceSums(exprs), exprs.length, inputs.length, floatCount, workgroup);
  gpu.run(variant, [first.binding, ...inputs.map((x) => x.binding)], [Math.min(c.O, maxGroups), splits], values);
  if (!partials) return;
  // Second pass, per expression k: out_k[o] = sum over splits of partials[k][split][o].
  const keptShape = [splits, c.O / c.K0, c.K0];
  for (let k = 0; k < exprs.length; k++) {
    const rows: View = { binding: { buffer: partials }, offset: k * splits * c.O, strides: [c.O, c.K0, 1] };
    const target: View = { binding: out.binding, offset: out.offset + k * exprStride, strides: [0, c.kept[0][0], c.kept[0][1]] };
    reduce(gpu, [{ k: 'in', i: 0 }], [rows], target, 0, keptShape, [true, false, false]);
  }
  gpu.pool.release(partials);
}
