// Writes a state dict as the zip checkpoint torch.save writes in torch 1.13: archive/data.pkl holds a
// protocol 2 pickle of an OrderedDict of torch._utils._rebuild_tensor_v2 calls, opcode for opcode and
// memo slot for memo slot what Python's pickler emits for it; each tensor's storage is the record
// archive/data/<key>, the records in string order of their keys; archive/version holds "3\n".
// Only opcodes that torch.load(weights_only=True) accepts are used.

import { STORAGE_CLASS } from './torch_objects.js';
import { CheckpointError, tensorBytes, type StateDict, type StoredTensor } from './types.js';
import { writeZip, type ZipRecord } from './zip_write.js';

const OP = {
  PROTO: 0x80,
  GLOBAL: 0x63,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
  MARK: 0x28,
  TUPLE: 0x74,
  TUPLE1: 0x85,
  EMPTY_TUPLE: 0x29,
  BININT1: 0x4b,
  BININT2: 0x4d,
  BININT: 0x4a,
  BINUNICODE: 0x58,
  NEWFALSE: 0x89,
  REDUCE: 0x52,
  BINPERSID: 0x51,
  SETITEM: 0x73,
  SETITEMS: 0x75,
  STOP: 0x2e,
};

/** Python's pickle.Pickler batches dict items in groups of this many. */
const BATCH_SIZE = 1000;

class Pickler {
  private out: number[] = [];
  private memoCount = 0;
  /** Memo slots of objects Python would pickle once and then refer back to: globals and interned strings. */
  private shared = new Map<string, number>();
  private encoder = new TextEncoder();

  op(...bytes: number[]): void {
    for (const b of bytes) this.out.push(b);
  }

  private u32(value: number): void {
    this.op(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24);
  }

  memoize(): void {
    const slot = this.memoCount++;
    if (slot < 256) {
      this.op(OP.BINPUT, slot);
    } else {
      this.op(OP.LONG_BINPUT);
      this.u32(slot);
    }
  }

  private get(slot: number): void {
    if (slot < 256) {
      this.op(OP.BINGET, slot);
    } else {
      this.op(OP.LONG_BINGET);
      this.u32(slot);
    }
  }

  /** Writes an object that Python pickles once per pickle, or a reference to the earlier copy. */
  private once(id: string, write: () => void): void {
    const slot = this.shared.get(id);
    if (slot !== undefined) {
      this.get(slot);
      return;
    }
    write();
    this.shared.set(id, this.memoCount);
    this.memoize();
  }

  global(module: string, name: string): void {
    this.once(`global ${module} ${name}`, () => this.op(OP.GLOBAL, ...this.encoder.encode(`${module}\n${name}\n`)));
  }

  int(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 31) throw new CheckpointError(`cannot pickle integer ${value}`);
    if (value < 0x100) {
      this.op(OP.BININT1, value);
    } else if (value < 0x10000) {
      this.op(OP.BININT2, value & 0xff, value >> 8);
    } else {
      this.op(OP.BININT);
      this.u32(value);
    }
  }

  private unicode(value: string): void {
    const bytes = this.encoder.encode(value);
    this.op(OP.BINUNICODE);
    this.u32(bytes.length);
    this.op(...bytes);
  }

  string(value: string): void {
    this.unicode(value);
    this.memoize();
  }

  /** A string constant of torch's source, which Python interns: one copy per pickle. */
  internedString(value: string): void {
    this.once(`str ${value}`, () => this.unicode(value));
  }

  intTuple(values: number[]): void {
    if (values.length === 0) {
      this.op(OP.EMPTY_TUPLE);
      return;
    }
    if (values.length > 3) this.op(OP.MARK);
    values.forEach((v) => this.int(v));
    this.op(values.length > 3 ? OP.TUPLE : OP.TUPLE1 + values.length - 1);
    this.memoize();
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

function rowMajorStrides(shape: number[]): number[] {
  const strides = shape.map(() => 1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/** _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict()) with the storage as a persistent id. */
function pickleTensor(p: Pickler, t: StoredTensor, storageKey: string): void {
  p.global('torch._utils', '_rebuild_tensor_v2');
  p.op(OP.MARK, OP.MARK);
  p.internedString('storage');
  p.global('torch', STORAGE_CLASS[t.dtype]);
  p.string(storageKey);
  p.internedString('cpu');
  p.int(t.data.length);
  p.op(OP.TUPLE);
  p.memoize();
  p.op(OP.BINPERSID);
  p.int(0);
  p.intTuple(t.shape);
  p.intTuple(rowMajorStrides(t.shape));
  p.op(OP.NEWFALSE);
  p.global('collections', 'OrderedDict');
  p.op(OP.EMPTY_TUPLE, OP.REDUCE);
  p.memoize();
  p.op(OP.TUPLE);
  p.memoize();
  p.op(OP.REDUCE);
  p.memoize();
}

function pickleStateDict(sd: StateDict): Uint8Array {
  const p = new Pickler();
  p.op(OP.PROTO, 2);
  p.global('collections', 'OrderedDict');
  p.op(OP.EMPTY_TUPLE, OP.REDUCE);
  p.memoize();
  const items = [...sd];
  for (let start = 0; start < items.length; start += BATCH_SIZE) {
    const batch = items.slice(start, start + BATCH_SIZE);
    if (batch.length > 1) p.op(OP.MARK);
    batch.forEach(([name, t], i) => {
      p.string(name);
      pickleTensor(p, t, String(start + i));
    });
    p.op(batch.length > 1 ? OP.SETITEMS : OP.SETITEM);
  }
  p.op(OP.STOP);
  return p.bytes();
}

/** The state dict as a torch 1.13 zip checkpoint; every tensor is written contiguous, on its own storage. */
export function writePth(sd: StateDict): Uint8Array {
  const storages = [...sd].map(([name, t], i) => ({ key: String(i), data: tensorBytes(name, t) }));
  storages.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const records: ZipRecord[] = [
    { name: 'archive/data.pkl', data: pickleStateDict(sd) },
    ...storages.map(({ key, data }) => ({ name: `archive/data/${key}`, data })),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ];
  return writeZip(records);
}
