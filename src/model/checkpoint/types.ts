// Shared types of the checkpoint readers and writers: element types, stored tensors, state dicts and
// the one error class every failure is reported with.
//
// Tensor data is held in typed arrays of the platform's byte order, which is little-endian on every
// platform this engine runs on, the same order PyTorch and safetensors files use.

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array; // float16 and bfloat16 as raw bits

export interface StoredTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** Tensors by name; the insertion order is the order of the file. */
export type StateDict = Map<string, StoredTensor>;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/**
 * A plain Uint8Array over the same bytes: Node's Buffer.slice returns a view instead of a copy, which
 * breaks the copies the readers take with slice().
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** An error thrown while reading a file, as a CheckpointError whose message starts with the file's name. */
export function namedError(fileName: string, error: unknown): CheckpointError {
  const detail = error instanceof CheckpointError ? error.message : `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
  return new CheckpointError(`${fileName}: ${detail}`, { cause: error });
}

type TypedArrayClass = new (buffer: ArrayBuffer, byteOffset?: number, length?: number) => TensorData;

const ARRAY_CLASS: Record<DType, TypedArrayClass> = {
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

const ELEMENT_SIZE: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function elementSize(dtype: DType): number {
  return ELEMENT_SIZE[dtype];
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A typed array of `dtype` over all of `buffer`, whose length must be a multiple of the element size. */
export function typedArrayOver(dtype: DType, buffer: ArrayBuffer): TensorData {
  return new ARRAY_CLASS[dtype](buffer);
}

/** The bytes of a tensor's data, checked against its dtype and shape. */
export function tensorBytes(name: string, t: StoredTensor): Uint8Array {
  const Class = ARRAY_CLASS[t.dtype];
  if (!Class) throw new CheckpointError(`tensor '${name}': unknown dtype '${String(t.dtype)}'`);
  if (!(t.data instanceof Class)) {
    throw new CheckpointError(`tensor '${name}': dtype ${t.dtype} needs a ${Class.name}, got ${t.data.constructor.name}`);
  }
  if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new CheckpointError(`tensor '${name}': invalid shape [${t.shape.join(', ')}]`);
  }
  if (t.data.length !== numelOf(t.shape)) {
    throw new CheckpointError(`tensor '${name}': shape [${t.shape.join(', ')}] needs ${numelOf(t.shape)} elements, data has ${t.data.length}`);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
