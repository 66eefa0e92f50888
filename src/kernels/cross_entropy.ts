// Softmax cross-entropy, forward: loss = mean over rows b of (logsumexp(logits[b]) - logits[b, label[b]]).
// A label outside [0, K) makes the loss NaN (the training loop stops on a non-finite loss); the NaN
// comes in as a parameter because WGSL rejects NaN constants.
//
// Tiling: one workgroup; invocation i takes rows i, i + WG, ... (max-shifted log-sum-exp per row),
// then a workgroup sum (workgroup_reduce.ts) and one write of the mean.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { blockSum } from './workgroup_reduce.js';

export interface LogitsView {
  binding: Binding;
  off: number;
  row: number;
  col: number;
}

function kernel(workgroup: number): Kernel {
  return {
    name: 'cross_entropy',
    params: ['B', 'K', 'off', 'row', 'col', 'labelOff', 'lossOff', 'nan'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;

${blockSum('workgroupSum', workgroup, 1, false)}
@compute @workgroup_size(${workgroup})
fn main(@builtin(local_invocation_index) lid: u32) {
  var total = 0.0;
  for (var b = lid; b < P.B; b += ${workgroup}u) {
    let base = P.off + b * P.row;
    var top = logits[base];
    for (var k = 1u; k < P.K; k++) { top = max(top, logits[base + k * P.col]); }
    var sum = 0.0;
    for (var k = 0u; k < P.K; k++) { sum += exp(logits[base + k * P.col] - top); }
    let label = labels[P.labelOff + b];
    if (label < 0 || u32(label) >= P.K) {
      total += bitcast<f32>(P.nan);
    } else {
      total += top + log(sum) - logits[base + u32(label) * P.col];
    }
  }
  let sum = workgroupSum(lid, array<f32, 1>(total))[0];
  if (lid == 0u) { loss[P.lossOff] = sum / f32(P.B); }
}
`,
  };
}

export function crossEntropy(gpu: Gpu, B: number, K: number, logits: LogitsView, labels: Binding, labelOff: number, loss: Binding, lossOff: number): void {
  const workgroup = gpu.profile.workgroup;
  gpu.run(kernel(workgroup), [logits.binding, labels, loss], [1], {
    B,
    K,
    off: logits.off,
    row: logits.row,
    col: logits.col,
    labelOff,
    lossOff,
    nan: 0x7fc00000,
  });
}
