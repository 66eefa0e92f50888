// Softmax cross-entropy, backward: dlogits[b,k] = (softmax(logits[b])[k] - (k == label[b])) * g / B,
// g being the gradient of the mean loss.
//
// Tiling: one invocation per row; it finds the row's maximum and normaliser once, then writes the K
// gradients of its row (rows are short: the class count).

import { type Gpu, memoKernel } from '../gpu/context.js';
import { LOGITS } from './cross_entropy.js';
import { type View, view } from './view.js';

const LABELS = view('labels', [], ['B']);
const GRAD_LOSS = view('gradLoss', []);
const DLOGITS = view('dlogits', ['B'], ['K']);

const kernel = memoKernel('cross_entropy_grad', (workgroup: number) => ({
  params: ['B', 'K', ...LOGITS.params, ...LABELS.params, ...GRAD_LOSS.params, ...DLOGITS.params],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> gradLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;

${LOGITS.wgsl}${LABELS.wgsl}${GRAD_LOSS.wgsl}${DLOGITS.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= P.B) { return; }
  let row = logitsBase(b);
  var top = logits[logitsAt(row, 0u)];
  for (var k = 1u; k < P.K; k++) { top = max(top, logits[logitsAt(row, k)]); }
  var sum = 0.0;
  for (var k = 0u; k < P.K; k++) { sum += exp(logits[logitsAt(row, k)] - top); }
  let scale = gradLoss[gradLossAt(gradLossBase())] / f32(P.B);
  let label = labels[labelsAt(labelsBase(), b)];
  let outRow = dlogitsBase(b);
  for (var k = 0u; k < P.K; k++) {
    let p = exp(logits[logitsAt(row, k)] - top) / sum;
    let onehot = select(0.0, 1.0, i32(k) == label);
    dlogits[dlogitsAt(outRow, k)] = (p - onehot) * scale;
  }
}
`,
}));

/** logits and dlogits [B, K], labels [B] (int32), gradLoss the loss's gradient (a scalar view). */
export function crossEntropyGrad(gpu: Gpu, B: number, K: number, logits: View, labels: View, gradLoss: View, dlogits: View): void {
  const workgroup = gpu.profile.workgroup;
  gpu.run(kernel(workgroup), [logits.binding, labels.binding, gradLoss.binding, dlogits.binding], [Math.ceil(B / workgroup)], {
    B,
    K,
    ...LOGITS.values(logits),
    ...LABELS.values(labels),
    ...GRAD_LOSS.values(gradLoss),
    ...DLOGITS.values(dlogits),
  });
}
