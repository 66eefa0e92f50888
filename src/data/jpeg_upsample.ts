// Chroma upsampling as libjpeg-turbo 2.1 does it by default (jdsample.c, do_fancy_upsampling):
// triangle ("fancy") filters for 2x1, 1x2 and 2x2 subsampling, pixel replication otherwise.
// Component planes are recovered from jpeg-js's nearest-neighbour expanded output. Browser-safe.

/** One 8-bit sample plane. */
export interface Plane {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Component `channel` at its own resolution (libjpeg's downsampled_width x downsampled_height), read
 * back from jpeg-js's interleaved output, in which each sample is replicated over an ex x ey block.
 */
export function componentPlane(rgb: Uint8Array, width: number, height: number, channel: number, ex: number, ey: number): Plane {
  const w = Math.ceil(width / ex);
  const h = Math.ceil(height / ey);
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(y * ey + (ey >> 1), height - 1);
    for (let x = 0; x < w; x++) {
      const sx = Math.min(x * ex + (ex >> 1), width - 1);
      data[y * w + x] = rgb[(sy * width + sx) * 3 + channel];
    }
  }
  return { width: w, height: h, data };
}

/** Expands a plane by integer factors (ex, ey) to width x height the way libjpeg-turbo does. */
export function upsample(p: Plane, ex: number, ey: number, width: number, height: number): Plane {
  const out: Plane = { width, height, data: new Uint8Array(width * height) };
  if (ex === 2 && ey === 2 && p.width > 2) fancy2x2(p, out);
  else if (ex === 2 && ey === 1 && p.width > 2) fancy2x1(p, out);
  else if (ex === 1 && ey === 2) fancy1x2(p, out);
  else replicate(p, ex, ey, out);
  return out;
}

function replicate(p: Plane, ex: number, ey: number, out: Plane): void {
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) out.data[y * out.width + x] = p.data[Math.floor(y / ey) * p.width + Math.floor(x / ex)];
  }
}

/** h2v1_fancy_upsample: 3/4 nearer + 1/4 further sample, alternating rounding biases. */
function fancy2x1(p: Plane, out: Plane): void {
  const w = p.width;
  for (let y = 0; y < out.height; y++) {
    const row = p.data.subarray(y * w, y * w + w);
    for (let x = 0; x < out.width; x++) {
      const i = x >> 1;
      const near = row[i] * 3;
      let v: number;
      if (x & 1) v = i === w - 1 ? row[i] : (near + row[i + 1] + 2) >> 2;
      else v = i === 0 ? row[0] : (near + row[i - 1] + 1) >> 2;
      out.data[y * out.width + x] = v;
    }
  }
}

/** h1v2_fancy_upsample: 3/4 nearer + 1/4 further row; edge rows repeat. */
function fancy1x2(p: Plane, out: Plane): void {
  const w = p.width;
  for (let y = 0; y < out.height; y++) {
    const i = y >> 1;
    const far = y & 1 ? Math.min(i + 1, p.height - 1) : Math.max(i - 1, 0);
    const bias = y & 1 ? 2 : 1;
    for (let x = 0; x < w; x++) out.data[y * w + x] = (p.data[i * w + x] * 3 + p.data[far * w + x] + bias) >> 2;
  }
}

/** h2v2_fancy_upsample: vertical 3:1 column sums, then horizontal 3:1 with biases 8 / 7; edge rows repeat. */
function fancy2x2(p: Plane, out: Plane): void {
  const w = p.width;
  const sums = new Int32Array(w);
  for (let y = 0; y < out.height; y++) {
    const i = y >> 1;
    const far = y & 1 ? Math.min(i + 1, p.height - 1) : Math.max(i - 1, 0);
    for (let x = 0; x < w; x++) sums[x] = p.data[i * w + x] * 3 + p.data[far * w + x];
    for (let x = 0; x < out.width; x++) {
      const j = x >> 1;
      let v: number;
      if (x & 1) v = j === w - 1 ? (sums[j] * 4 + 7) >> 4 : (sums[j] * 3 + sums[j + 1] + 7) >> 4;
      else v = j === 0 ? (sums[0] * 4 + 8) >> 4 : (sums[j] * 3 + sums[j - 1] + 8) >> 4;
      out.data[y * out.width + x] = v;
    }
  }
}
