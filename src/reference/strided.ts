// Strided views on the CPU: gather a view into a contiguous float64 array, scatter one back.

export interface CpuView {
  data: Float32Array | Float64Array | Int32Array;
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}

/** Calls visit(flatIndex, storageIndex) for every element of the view in row-major order. */
export function forEachIndex(shape: readonly number[], strides: readonly number[], offset: number, visit: (flat: number, at: number) => void): void {
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  const size = shape.reduce((a, b) => a * b, 1);
  let at = offset;
  for (let flat = 0; flat < size; flat++) {
    visit(flat, at);
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      at += strides[d];
      if (index[d] < shape[d]) break;
      at -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

export function gather(v: CpuView): Float64Array {
  const out = new Float64Array(v.shape.reduce((a, b) => a * b, 1));
  forEachIndex(v.shape, v.strides, v.offset, (flat, at) => (out[flat] = v.data[at]));
  return out;
}

export function scatter(values: ArrayLike<number>, v: CpuView): void {
  forEachIndex(v.shape, v.strides, v.offset, (flat, at) => (v.data[at] = values[flat]));
}
