// Softmax cross-entropy, forward: loss = mean over rows b of (logsumexp(logits[b]) - logits[b, label[b]]).
// A label outside [0, K) makes the loss NaN (the training loop stops on a non-finite loss); the NaN
// comes in as a parameter because WGSL rejects NaN constants.
//
// Tiling: one workgroup; invocation i takes rows i, i + WG, ... (max-shifted log-sum-exp per row),
// then a workgroup sum (workgroup_reduce.ts) and one write of the mean.

import { type Binding, type Gpu, memoKernel } from '../gpu/context.js';
import { type View, view } from './view.js';
import { blockSum } from './workgroup_reduce.js';

/** The logits [B, K] as the softmax kernels address them: a row base per b, then k along it. */
export const LOGITS = view('logits', ['B'], ['K']);
const LABELS = view('labels', [], ['B']);
const LOSS = view('loss', []);

const kernel = memoKernel('cross_entropy', (workgroup: number) => ({
  params: ['B', 'K', ...LOGITS.params, ...LABELS.params, ...LOSS.params, 'nan'],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;

${LOGITS.wgsl}${LABELS.wgsl}${LOSS.wgsl}
${blockSum('workgroupSum', workgroup, 1, false)}
@compute @workgroup_size(${workgroup})
fn main(@builtin(local_invocation_index) lid: u32) {
  var total = 0.0;
  let labelBase = labelsBase();
  for (var b = lid; b < P.B; b += ${workgroup}u) {
    let row = logitsBase(b);
    var top = logits[logitsAt(row, 0u)];
    for (var k = 1u; k < P.K; k++) { top = max(top, logits[logitsAt(row, k)]); }
    var sum = 0.0;
    for (var k = 0u; k < P.K; k++) { sum += exp(logits[logitsAt(row, k)] - top); }
    let label = labels[labelsAt(labelBase, b)];
    if (label < 0 || u32(label) >= P.K) {
      total += bitcast<f32>(P.nan);
    } else {
      total += top + log(sum) - logits[logitsAt(row, u32(label))];
    }
  }
  let sum = workgroupSum(lid, array<f32, 1>(total))[0];
  if (lid == 0u) { loss[lossAt(lossBase())] = sum / f32(P.B); }
}
`,
}));

/** logits [B, K], labels [B] (int32), loss a scalar view. */
export function crossEntropy(gpu: Gpu, B: number, K: number, logits: View, labels: View, loss: View): void {
  const bindings: Binding[] = [logits.binding, labels.binding, loss.binding];
  gpu.run(kernel(gpu.profile.workgroup), bindings, [1], { B, K, ...LOGITS.values(logits), ...LABELS.values(labels), ...LOSS.values(loss), nan: 0x7fc00000 });
}
