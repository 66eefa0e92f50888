// Softmax cross-entropy, backward: dlogits[b,k] = (softmax(logits[b])[k] - (k == label[b])) * g / B,
// g being the gradient of the mean loss.
//
// Tiling: one invocation per row; it finds the row's maximum and normaliser once, then writes the K
// gradients of its row (rows are short: the class count).

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import type { LogitsView } from './cross_entropy.js';

function kernel(workgroup: number): Kernel {
  return {
    name: 'cross_entropy_grad',
    params: ['B', 'K', 'off', 'row', 'col', 'labelOff', 'gradOff', 'outOff'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> gradLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= P.B) { return; }
  let base = P.off + b * P.row;
  var top = logits[base];
  for (var k = 1u; k < P.K; k++) { top = max(top, logits[base + k * P.col]); }
  var sum = 0.0;
  for (var k = 0u; k < P.K; k++) { sum += exp(logits[base + k * P.col] - top); }
  let scale = gradLoss[P.gradOff] / f32(P.B);
  let label = labels[P.labelOff + b];
  for (var k = 0u; k < P.K; k++) {
    let p = exp(logits[base + k * P.col] - top) / sum;
    let onehot = select(0.0, 1.0, i32(k) == label);
    dlogits[P.outOff + b * P.K + k] = (p - onehot) * scale;
  }
}
`,
  };
}

/** dlogits is contiguous [B, K] at element offset outOff. */
export function crossEntropyGrad(
  gpu: Gpu,
  B: number,
  K: number,
  logits: LogitsView,
  labels: Binding,
  labelOff: number,
  gradLoss: Binding,
  gradOff: number,
  dlogits: Binding,
  outOff: number,
): void {
  const workgroup = gpu.profile.workgroup;
  gpu.run(kernel(workgroup), [logits.binding, labels, gradLoss, dlogits], [Math.ceil(B / workgroup)], {
    B,
    K,
    off: logits.off,
    row: logits.row,
    col: logits.col,
    labelOff,
    gradOff,
    outOff,
  });
}
