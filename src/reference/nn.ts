// CPU reference for batch-norm statistics, max pooling and softmax cross-entropy: plain loops in
// float64 over contiguous row-major arrays.

/** Per channel of [N, C, HW]: mean and biased variance (two passes). */
function channelMoments(x: Float64Array, N: number, C: number, HW: number, c: number): { mean: number; variance: number } {
  let sum = 0;
  for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) sum += x[(n * C + c) * HW + p];
  const mean = sum / (N * HW);
  let sq = 0;
  for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) sq += (x[(n * C + c) * HW + p] - mean) ** 2;
  return { mean, variance: sq / (N * HW) };
}

/**
 * Batch-norm statistics and affine: stats = [mean, invstd, scale, shift] per channel, from x in
 * training (the running statistics updated in place, unbiased variance) or from the running
 * statistics in evaluation (x null).
 */
export function batchNormStats(
  x: Float64Array | null,
  N: number,
  C: number,
  HW: number,
  weight: Float64Array,
  bias: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  momentum: number,
  eps: number,
): Float64Array {
  const stats = new Float64Array(4 * C);
  for (let c = 0; c < C; c++) {
    let mean = runningMean[c];
    let variance = runningVar[c];
    if (x) {
      ({ mean, variance } = channelMoments(x, N, C, HW, c));
      const count = N * HW;
      runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean;
      runningVar[c] = (1 - momentum) * runningVar[c] + (momentum * variance * count) / (count - 1);
    }
    const invStd = 1 / Math.sqrt(variance + eps);
    const scale = weight[c] * invStd;
    [mean, invStd, scale, bias[c] - mean * scale].forEach((v, i) => (stats[i * C + c] = v));
  }
  return stats;
}

/**
 * Batch-norm backward per channel: dBias = sum g', dWeight = invstd sum g'(x - mean), and the
 * coefficients [a, b, d] of dx = a g' + b x + d (g' = g masked by y > 0 when y is given).
 */
export function batchNormGrad(
  g: Float64Array,
  x: Float64Array,
  y: Float64Array | null,
  stats: Float64Array,
  N: number,
  C: number,
  HW: number,
  training: boolean,
): { coef: Float64Array; dWeight: Float64Array; dBias: Float64Array } {
  const coef = new Float64Array(3 * C);
  const dWeight = new Float64Array(C);
  const dBias = new Float64Array(C);
  const count = N * HW;
  for (let c = 0; c < C; c++) {
    const [mean, invStd, scale] = [stats[c], stats[C + c], stats[2 * C + c]];
    let sg = 0;
    let sgx = 0;
    for (let n = 0; n < N; n++)
      for (let p = 0; p < HW; p++) {
        const i = (n * C + c) * HW + p;
        const grad = y && !(y[i] > 0) ? 0 : g[i];
        sg += grad;
        sgx += grad * (x[i] - mean);
      }
    dBias[c] = sg;
    dWeight[c] = sgx * invStd;
    const b = training ? (-scale * invStd * invStd * sgx) / count : 0;
    coef[c] = scale;
    coef[C + c] = b;
    coef[2 * C + c] = training ? -b * mean - (scale * sg) / count : 0;
  }
  return { coef, dWeight, dBias };
}

/** Max pooling over [N*C planes of H x W]; ties keep the first maximum in scan order, as PyTorch does. */
export function maxPool2d(
  x: Float64Array,
  planes: number,
  H: number,
  W: number,
  OH: number,
  OW: number,
  kernel: number,
  stride: number,
  padding: number,
): { y: Float64Array; argmax: Int32Array } {
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
