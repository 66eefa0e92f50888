// Pillow 9.4's Image.resize(size, BILINEAR) on 8-bit RGB, reproduced bit for bit (libImaging/Resample.c):
// a triangle filter whose support grows with the downscale factor (antialiasing), double-precision
// coefficients rounded to 22-bit fixed point, a horizontal pass then a vertical pass through an 8-bit
// intermediate, and a pass skipped when its dimension is unchanged. Browser-safe.
import type { RgbImage } from './image.js';

const PRECISION_BITS = 22;

/** Per output index: first input index, number of taps, and ksize fixed-point weights. */
interface Coeffs {
  ksize: number;
  bounds: Int32Array;
  weights: Int32Array;
}

function bilinear(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
}

/** precompute_coeffs + normalize_coeffs_8bpc of Resample.c for the box [0, inSize). */
function coefficients(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = bilinear((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : Math.min(s, 255);
}

function horizontal(img: RgbImage, outWidth: number): RgbImage {
  const { ksize, bounds, weights } = coefficients(img.width, outWidth);
  const { width, height, data } = img;
  const out = new Uint8Array(outWidth * height * 3);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2];
      const n = bounds[xx * 2 + 1];
      const kb = xx * ksize;
      let r = 1 << (PRECISION_BITS - 1);
      let g = r;
      let b = r;
      for (let x = 0; x < n; x++) {
        const w = weights[kb + x];
        const p = row + (xmin + x) * 3;
        r += data[p] * w;
        g += data[p + 1] * w;
        b += data[p + 2] * w;
      }
      const o = (y * outWidth + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width: outWidth, height, data: out };
}

function vertical(img: RgbImage, outHeight: number): RgbImage {
  const { ksize, bounds, weights } = coefficients(img.height, outHeight);
  const { width, data } = img;
  const stride = width * 3;
  const out = new Uint8Array(outHeight * stride);
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2];
    const n = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    for (let i = 0; i < stride; i++) {
      let s = 1 << (PRECISION_BITS - 1);
      for (let y = 0; y < n; y++) s += data[(ymin + y) * stride + i] * weights[kb + y];
      out[yy * stride + i] = clip8(s);
    }
  }
  return { width, height: outHeight, data: out };
}

/** PIL Image.resize((width, height), Image.BILINEAR) exactly. */
export function resize(img: RgbImage, width: number, height: number): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`resize: target size must be positive integers, got ${width}x${height}`);
  }
  let out = img;
  if (width !== img.width) out = horizontal(out, width);
  if (height !== img.height) out = vertical(out, height);
  return out === img ? { width, height, data: img.data.slice() } : out;
}
