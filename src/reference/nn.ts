// CPU reference for batch-norm statistics, max pooling and softmax cross-entropy: plain loops in
// float64 over contiguous row-major arrays.

/** Per channel of [N, C, HW]: mean and biased variance (two passes). */
export function batchNormStats(x: Float64Array, N: number, C: number, HW: number): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  const count = N * HW;
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) sum += x[(n * C + c) * HW + p];
    mean[c] = sum / count;
    let sq = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) sq += (x[(n * C + c) * HW + p] - mean[c]) ** 2;
    variance[c] = sq / count;
  }
  return { mean, variance };
}

/** Max pooling over [N*C planes of H x W]; ties keep the first maximum in scan order, as PyTorch does. */
export function maxPool2d(x: Float64Array, planes: number, H: number, W: number, OH: number, OW: number, kernel: number, stride: number, padding: number): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(planes * OH * OW);
  const argmax = new Int32Array(planes * OH * OW);
  for (let p = 0; p < planes; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let best = -Infinity;
        let at = -1;
        for (let kh = 0; kh < kernel; kh++)
          for (let kw = 0; kw < kernel; kw++) {
            const h = oh * stride - padding + kh;
            const w = ow * stride - padding + kw;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const v = x[(p * H + h) * W + w];
            if (v > best || Number.isNaN(v) || at < 0) {
              best = v;
              at = h * W + w;
            }
          }
        y[(p * OH + oh) * OW + ow] = best;
        argmax[(p * OH + oh) * OW + ow] = at;
      }
  return { y, argmax };
}

export function maxPool2dGrad(dy: Float64Array, argmax: Int32Array, planes: number, HW: number, OHW: number): Float64Array {
  const dx = new Float64Array(planes * HW);
  for (let p = 0; p < planes; p++) for (let o = 0; o < OHW; o++) dx[p * HW + argmax[p * OHW + o]] += dy[p * OHW + o];
  return dx;
}

function logSoftmaxRow(logits: Float64Array, row: number, K: number): Float64Array {
  let max = -Infinity;
  for (let k = 0; k < K; k++) max = Math.max(max, logits[row * K + k]);
  let sum = 0;
  for (let k = 0; k < K; k++) sum += Math.exp(logits[row * K + k] - max);
  const out = new Float64Array(K);
  for (let k = 0; k < K; k++) out[k] = logits[row * K + k] - max - Math.log(sum);
  return out;
}

function checkLabel(label: number, K: number): void {
  if (!(label >= 0 && label < K)) throw new Error(`cross_entropy: label ${label} is outside [0, ${K})`);
}

export function crossEntropy(logits: Float64Array, labels: Int32Array, B: number, K: number): number {
  let total = 0;
  for (let b = 0; b < B; b++) {
    checkLabel(labels[b], K);
    total -= logSoftmaxRow(logits, b, K)[labels[b]];
  }
  return total / B;
}

export function crossEntropyGrad(logits: Float64Array, labels: Int32Array, B: number, K: number, gradLoss: number): Float64Array {
  const d = new Float64Array(B * K);
  for (let b = 0; b < B; b++) {
    const logp = logSoftmaxRow(logits, b, K);
    for (let k = 0; k < K; k++) d[b * K + k] = ((Math.exp(logp[k]) - (k === labels[b] ? 1 : 0)) * gradLoss) / B;
  }
  return d;
}
