// CPU reference for convolutions and matrix products: plain loops in float64 over contiguous
// row-major arrays, written to be obviously right rather than fast.

export interface ConvShape {
  N: number;
  C: number;
  H: number;
  W: number;
  /** Output channels, kernel size, output size. */
  K: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  stride: [number, number];
  padding: [number, number];
  groups: number;
}

/** Calls visit(n, k, oh, ow, c, kh, kw, xIndex, wIndex, yIndex) for every multiply of a convolution. */
function forEachTap(s: ConvShape, visit: (xi: number, wi: number, yi: number) => void): void {
  const cPerGroup = s.C / s.groups;
  const kPerGroup = s.K / s.groups;
  for (let n = 0; n < s.N; n++)
    for (let k = 0; k < s.K; k++) {
      const g = Math.floor(k / kPerGroup);
      for (let oh = 0; oh < s.OH; oh++)
        for (let ow = 0; ow < s.OW; ow++) {
          const yi = ((n * s.K + k) * s.OH + oh) * s.OW + ow;
          for (let cg = 0; cg < cPerGroup; cg++) {
            const c = g * cPerGroup + cg;
            for (let kh = 0; kh < s.KH; kh++) {
              const h = oh * s.stride[0] - s.padding[0] + kh;
              if (h < 0 || h >= s.H) continue;
              for (let kw = 0; kw < s.KW; kw++) {
                const w = ow * s.stride[1] - s.padding[1] + kw;
                if (w < 0 || w >= s.W) continue;
                visit(((n * s.C + c) * s.H + h) * s.W + w, ((k * cPerGroup + cg) * s.KH + kh) * s.KW + kw, yi);
              }
            }
          }
        }
    }
}

export function conv2d(x: Float64Array, w: Float64Array, s: ConvShape): Float64Array {
  const y = new Float64Array(s.N * s.K * s.OH * s.OW);
  forEachTap(s, (xi, wi, yi) => (y[yi] += x[xi] * w[wi]));
  return y;
}

export function conv2dGradInput(dy: Float64Array, w: Float64Array, s: ConvShape): Float64Array {
  const dx = new Float64Array(s.N * s.C * s.H * s.W);
  forEachTap(s, (xi, wi, yi) => (dx[xi] += dy[yi] * w[wi]));
  return dx;
}

export function conv2dGradWeight(dy: Float64Array, x: Float64Array, s: ConvShape): Float64Array {
  const dw = new Float64Array((s.K * s.C * s.KH * s.KW) / s.groups);
  forEachTap(s, (xi, wi, yi) => (dw[wi] += dy[yi] * x[xi]));
  return dw;
}

/** [B, M, K] x [B, K, N] -> [B, M, N]. */
export function matmul(a: Float64Array, b: Float64Array, B: number, M: number, K: number, N: number): Float64Array {
  const out = new Float64Array(B * M * N);
  for (let batch = 0; batch < B; batch++)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += a[(batch * M + m) * K + k] * b[(batch * K + k) * N + n];
        out[(batch * M + m) * N + n] = sum;
      }
  return out;
}
