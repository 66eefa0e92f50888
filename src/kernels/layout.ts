// Strided operands of the generic (element-wise, reduction) kernels: their dimensions merged, and
// padded to the rank a kernel variant is compiled for. An operand is a `View` (view.ts): a GPU
// buffer, an element offset and one stride per dimension of the iteration shape (stride 0 = broadcast).

/**
 * Drops size-1 dimensions and merges neighbours that are contiguous for every operand, so that most
 * element-wise work runs over one or two dimensions. Returns at least one dimension.
 */
export function mergeDims(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const keep = shape.map((_, d) => d).filter((d) => shape[d] !== 1);
  let outShape = keep.map((d) => shape[d]);
  let outStrides = strides.map((s) => keep.map((d) => s[d]));
  for (let d = outShape.length - 2; d >= 0; d--) {
    const inner = outShape[d + 1];
    if (outStrides.every((s) => s[d] === s[d + 1] * inner)) {
      outShape = [...outShape.slice(0, d), outShape[d] * inner, ...outShape.slice(d + 2)];
      outStrides = outStrides.map((s) => [...s.slice(0, d), s[d + 1], ...s.slice(d + 2)]);
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/** Left-pads a shape and its strides to `rank` dimensions with size-1, stride-0 entries. */
export function padRank(shape: number[], strides: number[][], rank: number): { shape: number[]; strides: number[][] } {
  if (shape.length > rank) throw new Error(`a strided operand of shape [${shape}] needs more than ${rank} dimensions after merging; make it contiguous first`);
  const pad = rank - shape.length;
  return { shape: [...Array(pad).fill(1), ...shape], strides: strides.map((s) => [...Array(pad).fill(0), ...s]) };
}
