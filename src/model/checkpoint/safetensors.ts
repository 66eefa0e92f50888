// safetensors files: an 8-byte little-endian header length, a JSON header (padded with spaces to a
// multiple of 8 bytes) naming each tensor's dtype, shape and [begin, end) byte range in the data that
// follows, and an optional "__metadata__" object of strings.

import { detectFormat, unrecognized } from './sniff.js';
import { CheckpointError, elementSize, namedError, numelOf, plainBytes, tensorBytes, typedArrayOver, type DType, type StateDict } from './types.js';

const CODE: Record<DType, string> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

const DTYPE = new Map(Object.entries(CODE).map(([dtype, code]) => [code, dtype as DType]));

const METADATA = '__metadata__';

export interface SafetensorsContents {
  tensors: StateDict;
  metadata: Record<string, string>;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

function isIndexList(value: unknown, length?: number): value is number[] {
  return Array.isArray(value) && (length === undefined || value.length === length) && value.every((v) => Number.isSafeInteger(v) && v >= 0);
}

function parseHeader(bytes: Uint8Array): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) throw new CheckpointError(`truncated: ${bytes.length} bytes cannot hold the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (8 + length > bytes.length) {
    throw new CheckpointError(`truncated: the header should be ${length} bytes long, but only ${bytes.length - 8} follow`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  } catch {
    throw new CheckpointError('the safetensors header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError('the safetensors header is not a JSON object');
  }
  return { header: header as Record<string, unknown>, dataStart: 8 + length };
}

export function parseSafetensors(bytes: Uint8Array): SafetensorsContents {
  const { header, dataStart } = parseHeader(bytes);
  const metadata = header[METADATA] ?? {};
  if (!isStringRecord(metadata)) throw new CheckpointError(`the safetensors ${METADATA} is not an object of strings`);
  const dataLength = bytes.length - dataStart;
  const entries: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA) continue;
    const { dtype: code, shape, data_offsets: range } = (info ?? {}) as Record<string, unknown>;
    const dtype = DTYPE.get(String(code));
    if (!dtype) throw new CheckpointError(`tensor '${name}' has unsupported dtype ${JSON.stringify(code)}`);
    if (!isIndexList(shape)) throw new CheckpointError(`tensor '${name}' has an invalid shape`);
    if (!isIndexList(range, 2) || range[0] > range[1]) throw new CheckpointError(`tensor '${name}' has invalid data_offsets`);
    const [begin, end] = range;
    const expected = numelOf(shape) * elementSize(dtype);
    if (end - begin !== expected) {
      throw new CheckpointError(`tensor '${name}' spans ${end - begin} bytes, but ${dtype} [${shape.join(', ')}] needs ${expected}`);
    }
    if (end > dataLength) {
      throw new CheckpointError(`truncated: tensor '${name}' ends at data byte ${end}, but the file holds only ${dataLength} data bytes`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin);
  const tensors: StateDict = new Map();
  for (const { name, dtype, shape, begin, end } of entries) {
    tensors.set(name, { dtype, shape, data: typedArrayOver(dtype, bytes.slice(dataStart + begin, dataStart + end).buffer) });
  }
  return { tensors, metadata: { ...metadata } };
}

/** Reads a safetensors file; `name` (a file name) prefixes error messages. Tensors come in data order. */
export function readSafetensors(bytes: Uint8Array, name = 'checkpoint'): SafetensorsContents {
  bytes = plainBytes(bytes);
  try {
    const format = detectFormat(bytes);
    if (format === 'zip' || format === 'legacy') throw new CheckpointError('a PyTorch .pth checkpoint, not a safetensors file (use readPth or readCheckpoint)');
    if (format === undefined && bytes.length >= 9) throw unrecognized(bytes);
    return parseSafetensors(bytes);
  } catch (error) {
    throw namedError(name, error);
  }
}

/** The state dict as a safetensors file, tensors in the map's order, with optional string metadata. */
export function writeSafetensors(sd: StateDict, metadata?: Record<string, string>): Uint8Array {
  const fields: string[] = [];
  if (metadata !== undefined) {
    if (!isStringRecord(metadata)) throw new CheckpointError('safetensors metadata must map strings to strings');
    fields.push(`${JSON.stringify(METADATA)}:${JSON.stringify(metadata)}`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of sd) {
    if (name === METADATA) throw new CheckpointError(`a tensor cannot be named ${METADATA} in a safetensors file`);
    const data = tensorBytes(name, t);
    const info = { dtype: CODE[t.dtype], shape: t.shape, data_offsets: [offset, offset + data.length] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    chunks.push(data);
    offset += data.length;
  }
  // Written field by field: JSON.stringify of an object would move integer-like names to the front.
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
