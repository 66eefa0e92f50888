// Adam / AdamW update, in place, as torch.optim.Adam / AdamW (1.13):
//   AdamW: p = p * (1 - lr * weight_decay);   Adam: g = g + weight_decay * p
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections are computed in float64 on the CPU, as PyTorch computes them in Python.
//
// Runs over a flat range of an optimizer's arenas (parameters, gradients, both moments at one
// offset): one dispatch steps every parameter of the range (src/autograd/optim.ts).
// Tiling: one invocation per element (grid-stride over x); hyper-parameters as uniforms.

import { f32bits, type Gpu, memoKernel } from '../gpu/context.js';
import type { AdamHyper } from '../reference/optim.js';
import { type View, view } from './view.js';

// Flat runs of the arenas: element i of the range at the view's offset + i.
const PARAM = view('param', [], ['I'], { unitStride: true });
const GRAD = view('grad', [], ['I'], { unitStride: true });
const M = view('m', [], ['I'], { unitStride: true });
const V = view('v', [], ['I'], { unitStride: true });

const kernel = memoKernel('adam', (workgroup: number) => ({
  params: ['size', ...PARAM.params, ...GRAD.params, ...M.params, ...V.params, 'beta1', 'beta2', 'eps', 'stepSize', 'bias2Sqrt', 'l2', 'decay'],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

${PARAM.wgsl}${GRAD.wgsl}${M.wgsl}${V.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let beta1 = bitcast<f32>(P.beta1);
  let beta2 = bitcast<f32>(P.beta2);
  let eps = bitcast<f32>(P.eps);
  let stepSize = bitcast<f32>(P.stepSize);
  let bias2Sqrt = bitcast<f32>(P.bias2Sqrt);
  let l2 = bitcast<f32>(P.l2);
  let decay = bitcast<f32>(P.decay);
  let params = paramBase();
  let grads = gradBase();
  let ms = mBase();
  let vs = vBase();
  for (var i = gid.x; i < P.size; i += groups.x * ${workgroup}u) {
    let p = param[paramAt(params, i)] * decay;
    let g = grad[gradAt(grads, i)] + l2 * p;
    let mi = m[mAt(ms, i)] * beta1 + g * (1.0 - beta1);
    let vi = v[vAt(vs, i)] * beta2 + g * g * (1.0 - beta2);
    m[mAt(ms, i)] = mi;
    v[vAt(vs, i)] = vi;
    param[paramAt(params, i)] = p - stepSize * (mi / (sqrt(vi) / bias2Sqrt + eps));
  }
}
`,
}));

/** Every operand a flat run of `size` elements. */
export function adamStep(gpu: Gpu, size: number, param: View, grad: View, m: View, v: View, h: AdamHyper): void {
  const workgroup = gpu.profile.updateWorkgroup;
  const groups = Math.min(Math.ceil(size / workgroup), gpu.maxGroups);
  gpu.run(kernel(workgroup), [param.binding, grad.binding, m.binding, v.binding], [groups], {
    size,
    ...PARAM.values(param),
    ...GRAD.values(grad),
    ...M.values(m),
    ...V.values(v),
    beta1: f32bits(h.beta1),
    beta2: f32bits(h.beta2),
    eps: f32bits(h.eps),
    stepSize: f32bits(h.lr / (1 - h.beta1 ** h.step)),
    bias2Sqrt: f32bits(Math.sqrt(1 - h.beta2 ** h.step)),
    l2: f32bits(h.decoupled ? 0 : h.weightDecay),
    decay: f32bits(h.decoupled ? 1 - h.lr * h.weightDecay : 1),
  });
}
