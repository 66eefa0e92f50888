// Fused element-wise kernel: out[i] = expr(in0[i], in1[i], ...) over a shape of up to four merged
// dimensions, every operand strided (stride 0 broadcasts, so per-channel scale and shift, bias, and
// scalars need no copies; an output view writes into a slice, a concat or a shuffled channel order).
//
// Tiling: one invocation per element of the innermost dimension (x, grid-stride), the next dimension
// on y and the outer two on z; each operand's address is offset + sum(index * stride), no divisions
// in the inner loop. An input living in the output's buffer is read through the output binding.

import type { Gpu, Kernel } from '../gpu/context.js';
import { f32bits } from '../gpu/context.js';
import { type Expr, paramCount, toWgsl } from './expr.js';
import { mergeDims, padRank, type StridedOperand } from './layout.js';

const DIMS = ['d0', 'd1', 'd2', 'd3'];

function operandParams(name: string): string[] {
  return [`${name}_off`, ...DIMS.map((_, d) => `${name}_s${d}`)];
}

function kernel(expr: Expr, inputCount: number, aliased: boolean[], floatParams: number, workgroup: number): Kernel {
  const params = [...DIMS, ...operandParams('out')];
  for (let i = 0; i < inputCount; i++) params.push(...operandParams(`in${i}`));
  for (let i = 0; i < floatParams; i++) params.push(`f${i}`);
  const address = (name: string) => `P.${name}_off + i0 * P.${name}_s0 + i1 * P.${name}_s1 + i2 * P.${name}_s2 + i3 * P.${name}_s3`;
  const bindings = ['@group(0) @binding(1) var<storage, read_write> out: array<f32>;'];
  let next = 2;
  const loads: string[] = [];
  for (let i = 0; i < inputCount; i++) {
    const buffer = aliased[i] ? 'out' : `in${i}`;
    if (!aliased[i]) bindings.push(`@group(0) @binding(${next++}) var<storage, read> in${i}: array<f32>;`);
    loads.push(`        let x${i} = ${buffer}[${address(`in${i}`)}];`);
  }
  const body = toWgsl(expr, (i) => `x${i}`, (i) => `bitcast<f32>(P.f${i})`);
  return {
    name: 'elementwise',
    params,
    wgsl: /* wgsl */ `
${bindings.join('\n')}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var outer = gid.z; outer < P.d0 * P.d1; outer += groups.z) {
    let i0 = outer / P.d1;
    let i1 = outer % P.d1;
    for (var i2 = gid.y; i2 < P.d2; i2 += groups.y) {
      for (var i3 = gid.x; i3 < P.d3; i3 += groups.x * ${workgroup}u) {
${loads.join('\n')}
        out[${address('out')}] = ${body};
      }
    }
  }
}
`,
  };
}

/** Writes expr(inputs) into `out` over `shape`; `floats` fill the expression's `param` slots. */
export function elementwise(gpu: Gpu, expr: Expr, inputs: StridedOperand[], out: StridedOperand, shape: readonly number[], floats: readonly number[] = []): void {
  const merged = mergeDims(shape, [out.strides, ...inputs.map((x) => x.strides)]);
  const { shape: dims, strides } = padRank(merged.shape, merged.strides, 4);
  const aliased = inputs.map((x) => x.binding.buffer === out.binding.buffer);
  const workgroup = Math.min(256, gpu.maxInvocations);
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  const values: Record<string, number> = { d0: dims[0], d1: dims[1], d2: dims[2], d3: dims[3] };
  const operands = [out, ...inputs];
  ['out', ...inputs.map((_, i) => `in${i}`)].forEach((name, j) => {
    values[`${name}_off`] = operands[j].offset;
    strides[j].forEach((s, d) => (values[`${name}_s${d}`] = s));
  });
  const floatCount = paramCount(expr);
  for (let i = 0; i < floatCount; i++) values[`f${i}`] = f32bits(floats[i]);
  const bindings = [out.binding, ...inputs.filter((_, i) => !aliased[i]).map((x) => x.binding)];
  gpu.run(kernel(expr, inputs.length, aliased, floatCount, workgroup), bindings, [
    Math.min(Math.ceil(dims[3] / workgroup), maxGroups),
    Math.min(dims[2], maxGroups),
    Math.min(dims[0] * dims[1], maxGroups),
  ], values);
}
