// Adam / AdamW update, in place, as torch.optim.Adam / AdamW (1.13):
//   AdamW: p = p * (1 - lr * weight_decay);   Adam: g = g + weight_decay * p
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections are computed in float64 on the CPU, as PyTorch computes them in Python.
//
// Runs over a flat range of an optimizer's arenas (parameters, gradients, both moments at one
// offset): one dispatch steps every parameter of the range (src/autograd/optim.ts).
// Tiling: one invocation per element (grid-stride over x); hyper-parameters as uniforms.

import type { Gpu, Kernel } from '../gpu/context.js';
import { f32bits } from '../gpu/context.js';
import type { AdamHyper } from '../reference/optim.js';
import type { FlatOperand } from './sgd.js';

function kernel(workgroup: number): Kernel {
  return {
    name: 'adam',
    params: ['size', 'pOff', 'gOff', 'mOff', 'vOff', 'beta1', 'beta2', 'eps', 'stepSize', 'bias2Sqrt', 'l2', 'decay'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let beta1 = bitcast<f32>(P.beta1);
  let beta2 = bitcast<f32>(P.beta2);
  let eps = bitcast<f32>(P.eps);
  let stepSize = bitcast<f32>(P.stepSize);
  let bias2Sqrt = bitcast<f32>(P.bias2Sqrt);
  let l2 = bitcast<f32>(P.l2);
  let decay = bitcast<f32>(P.decay);
  for (var i = gid.x; i < P.size; i += groups.x * ${workgroup}u) {
    let p = param[P.pOff + i] * decay;
    let g = grad[P.gOff + i] + l2 * p;
    let mi = m[P.mOff + i] * beta1 + g * (1.0 - beta1);
    let vi = v[P.vOff + i] * beta2 + g * g * (1.0 - beta2);
    m[P.mOff + i] = mi;
    v[P.vOff + i] = vi;
    param[P.pOff + i] = p - stepSize * (mi / (sqrt(vi) / bias2Sqrt + eps));
  }
}
`,
  };
}

export function adamStep(gpu: Gpu, size: number, param: FlatOperand, grad: FlatOperand, m: FlatOperand, v: FlatOperand, h: AdamHyper): void {
  const workgroup = gpu.profile.updateWorkgroup;
  const groups = Math.min(Math.ceil(size / workgroup), gpu.maxGroups);
  gpu.run(kernel(workgroup), [param.binding, grad.binding, m.binding, v.binding], [groups], {
    size,
    pOff: param.off,
    gOff: grad.off,
    mOff: m.off,
    vOff: v.off,
    beta1: f32bits(h.beta1),
    beta2: f32bits(h.beta2),
    eps: f32bits(h.eps),
    stepSize: f32bits(h.lr / (1 - h.beta1 ** h.step)),
    bias2Sqrt: f32bits(Math.sqrt(1 - h.beta2 ** h.step)),
    l2: f32bits(h.decoupled ? 0 : h.weightDecay),
    decay: f32bits(h.decoupled ? 1 - h.lr * h.weightDecay : 1),
  });
}
