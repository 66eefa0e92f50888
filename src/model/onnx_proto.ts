// The few ONNX protobuf messages an exported model needs (onnx.proto, IR version 7), written with a
// minimal protocol-buffers encoder: varints, length-delimited fields, little-endian raw tensor data.
// Field numbers are onnx.proto's; repeated numbers are written unpacked, which every parser reads.

/** Bytes of one message under construction. */
class Writer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private varint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    do {
      const byte = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v > 0n ? byte | 0x80 : byte);
    } while (v > 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wireType: 0 | 2): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  int(field: number, value: number): this {
    this.tag(field, 0);
    this.varint(BigInt(value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(BigInt(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Writer): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

/** TensorProto.DataType values used here. */
export const FLOAT = 1;
export const INT64 = 7;

export type Attribute = { name: string; int: number } | { name: string; ints: number[] };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Attribute[];
}

export interface InitializerSpec {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

/** A graph input or output: float32, each dimension a size or a symbolic name (a dynamic axis). */
export interface ValueSpec {
  name: string;
  dims: (number | string)[];
}

export interface ModelSpec {
  graphName: string;
  producer: string;
  opset: number;
  nodes: NodeSpec[];
  initializers: InitializerSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
}

// AttributeProto.AttributeType
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_INTS = 7;

function attribute(a: Attribute): Writer {
  const w = new Writer().string(1, a.name);
  if ('int' in a) return w.int(3, a.int).int(20, ATTRIBUTE_INT);
  for (const v of a.ints) w.int(8, v);
  return w.int(20, ATTRIBUTE_INTS);
}

function node(n: NodeSpec, index: number): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, `${n.op}_${index}`).string(4, n.op);
  for (const a of n.attributes ?? []) w.message(5, attribute(a));
  return w;
}

function initializer(t: InitializerSpec): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength); // little-endian on every platform the engine runs on
  return w
    .int(2, t.data instanceof Float32Array ? FLOAT : INT64)
    .string(8, t.name)
    .bytes(9, raw);
}

function valueInfo(v: ValueSpec): Writer {
  const shape = new Writer();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, FLOAT).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

/** The serialised ModelProto. */
export function encodeModel(m: ModelSpec): Uint8Array {
  const graph = new Writer();
  m.nodes.forEach((n, i) => graph.message(1, node(n, i)));
  graph.string(2, m.graphName);
  for (const t of m.initializers) graph.message(5, initializer(t));
  for (const v of m.inputs) graph.message(11, valueInfo(v));
  for (const v of m.outputs) graph.message(12, valueInfo(v));
  return new Writer()
    .int(1, 7) // ir_version 7: opset 13's
    .string(2, m.producer)
    .message(7, graph)
    .message(8, new Writer().string(1, '').int(2, m.opset))
    .finish();
}
