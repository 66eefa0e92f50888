// Conversion of stored tensors of any element type to float32, the engine's working type.

import type { StoredTensor } from './types.js';

/** IEEE half-precision bits to a number: normals, subnormals, signed zeros, infinities and NaN. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** The tensor's values as float32 (a fresh array; int64 values go through Number). */
export function toFloat32(t: StoredTensor): Float32Array {
  const { data } = t;
  const out = new Float32Array(data.length);
  if (t.dtype === 'float16') {
    for (let i = 0; i < data.length; i++) out[i] = halfToNumber(data[i] as number);
  } else if (t.dtype === 'bfloat16') {
    // bfloat16 is the upper half of a float32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < data.length; i++) bits[i] = (data[i] as number) << 16;
  } else if (data instanceof BigInt64Array) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  } else {
    out.set(data);
  }
  return out;
}
