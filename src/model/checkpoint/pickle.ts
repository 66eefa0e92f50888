// A minimal pickle virtual machine: every opcode of protocols 0 to 4 (and BYTEARRAY8 of protocol 5)
// except the extension registry and out-of-band buffers. Python values map to JavaScript ones: None to
// null, int to number (bigint past 2^53), str to string, bytes to Uint8Array, list and tuple to arrays,
// dict and OrderedDict to Map, set to Set. Globals become PyGlobal; calling one the hooks do not know
// builds an opaque PyObject placeholder instead of failing, so unknown classes only matter when
// something needs their value.

import { CheckpointError } from './types.js';

/** Any unpickled value; objects are the types listed above or values the hooks build. */
export type PyValue = null | boolean | number | bigint | string | object;

export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a class the reader does not model; keeps what pickle gave it. */
export class PyObject {
  state: PyValue = null;
  readonly items = new Map<PyValue, PyValue>();
  readonly elements: PyValue[] = [];
  constructor(
    readonly callee: PyValue,
    readonly args: PyValue[],
  ) {}
  get className(): string {
    return this.callee instanceof PyGlobal ? this.callee.toString() : 'an unknown class';
  }
}

export interface PickleHooks {
  persistentLoad(pid: PyValue): PyValue;
  /** The result of calling `fn` with `args`, or undefined for a global the hooks do not know. */
  call(fn: PyGlobal, args: PyValue[]): PyValue | undefined;
}

const UNSUPPORTED: Record<number, string> = {
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

const utf8 = new TextDecoder();

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

function toInt(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** Little-endian two's complement, as LONG1 and LONG4 store integers. */
function decodeLong(bytes: Uint8Array): number | bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  if (bytes.length > 0 && bytes[bytes.length - 1] & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return toInt(value);
}

/** Python's string escapes, as the text opcodes STRING and UNICODE write them. */
function unescapePython(text: string): string {
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
  return text.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_, code: string) =>
    code.length > 1 ? String.fromCodePoint(parseInt(code.slice(1), 16)) : (simple[code] ?? `\\${code}`),
  );
}

class Machine {
  private pos: number;
  private stack: PyValue[] = [];
  private marks: PyValue[][] = [];
  private memo = new Map<number, PyValue>();
  private opStart = 0;

  constructor(
    private bytes: Uint8Array,
    start: number,
    private hooks: PickleHooks,
  ) {
    this.pos = start;
  }

  private fail(message: string): CheckpointError {
    return new CheckpointError(`malformed pickle data at byte ${this.opStart}: ${message}`);
  }

  private truncated(): CheckpointError {
    return new CheckpointError(`truncated: the pickle data ends in the middle of an object (at byte ${this.bytes.length})`);
  }

  private take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.bytes.length) throw this.truncated();
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private uint(n: 1 | 2 | 4 | 8): number {
    const b = this.take(n);
    let value = 0;
    for (let i = n - 1; i >= 0; i--) value = value * 256 + b[i];
    return value;
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw this.truncated();
    return latin1(this.take(end - this.pos + 1).subarray(0, -1));
  }

  private view(n: number): DataView {
    const b = this.take(n);
    return new DataView(b.buffer, b.byteOffset, n);
  }

  private push(value: PyValue): void {
    this.stack.push(value);
  }

  private pop(): PyValue {
    if (this.stack.length === 0) throw this.fail('stack underflow');
    return this.stack.pop() as PyValue;
  }

  private top(): PyValue {
    if (this.stack.length === 0) throw this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): PyValue[] {
    const items = this.stack;
    const outer = this.marks.pop();
    if (!outer) throw this.fail('no MARK to pop to');
    this.stack = outer;
    return items;
  }

  private call(callee: PyValue, args: PyValue[]): PyValue {
    if (callee instanceof PyGlobal) {
      const known = this.hooks.call(callee, args);
      if (known !== undefined) return known;
      const path = callee.toString();
      if (path === 'collections.OrderedDict') return new Map(Array.isArray(args[0]) ? (args[0] as [PyValue, PyValue][]) : []);
      if (path === '_codecs.encode' && typeof args[0] === 'string') {
        return Uint8Array.from(args[0], (c) => c.charCodeAt(0));
      }
    }
    return new PyObject(callee, args);
  }

  private setItems(items: PyValue[]): void {
    const target = this.top();
    const map = target instanceof Map ? target : target instanceof PyObject ? target.items : undefined;
    if (!map) throw this.fail('SETITEM on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) map.set(items[i], items[i + 1]);
  }

  private appendItems(items: PyValue[]): void {
    const target = this.top();
    const list = Array.isArray(target) ? target : target instanceof PyObject ? target.elements : undefined;
    if (list) list.push(...items);
    else if (target instanceof Set) items.forEach((item) => target.add(item));
    else throw this.fail('APPEND on something that is not a list');
  }

  private memoGet(index: number): PyValue {
    if (!this.memo.has(index)) throw this.fail(`memo entry ${index} was never stored`);
    return this.memo.get(index) as PyValue;
  }

  run(): { value: PyValue; end: number } {
    for (;;) {
      this.opStart = this.pos;
      const op = this.take(1)[0];
      switch (op) {
        case 0x80: {
          // PROTO
          const protocol = this.uint(1);
          if (protocol > 5) throw this.fail(`unsupported pickle protocol ${protocol}`);
          break;
        }
        case 0x95:
          this.take(8);
          break; // FRAME: framing only
        case 0x2e:
          return { value: this.pop(), end: this.pos }; // STOP
        case 0x28:
          this.marks.push(this.stack);
          this.stack = [];
          break; // MARK
        case 0x30:
          this.pop();
          break; // POP
        case 0x31:
          this.popMark();
          break; // POP_MARK
        case 0x32:
          this.push(this.top());
          break; // DUP
        case 0x4e:
          this.push(null);
          break; // NONE
        case 0x88:
          this.push(true);
          break; // NEWTRUE
        case 0x89:
          this.push(false);
          break; // NEWFALSE
        case 0x49: {
          // INT
          const text = this.line();
          this.push(text === '01' ? true : text === '00' ? false : toInt(BigInt(text)));
          break;
        }
        case 0x4a:
          this.push(this.view(4).getInt32(0, true));
          break; // BININT
        case 0x4b:
          this.push(this.uint(1));
          break; // BININT1
        case 0x4d:
          this.push(this.uint(2));
          break; // BININT2
        case 0x4c:
          this.push(toInt(BigInt(this.line().replace(/L$/, ''))));
          break; // LONG
        case 0x8a:
          this.push(decodeLong(this.take(this.uint(1))));
          break; // LONG1
        case 0x8b:
          this.push(decodeLong(this.take(this.uint(4))));
          break; // LONG4
        case 0x46:
          this.push(parseFloat(this.line()));
          break; // FLOAT
        case 0x47:
          this.push(this.view(8).getFloat64(0, false));
          break; // BINFLOAT
        case 0x53:
          this.push(unescapePython(this.line().slice(1, -1)));
          break; // STRING
        case 0x54:
          this.push(latin1(this.take(this.uint(4))));
          break; // BINSTRING
        case 0x55:
          this.push(latin1(this.take(this.uint(1))));
          break; // SHORT_BINSTRING
        case 0x56:
          this.push(unescapePython(this.line()));
          break; // UNICODE
        case 0x58:
          this.push(utf8.decode(this.take(this.uint(4))));
          break; // BINUNICODE
        case 0x8c:
          this.push(utf8.decode(this.take(this.uint(1))));
          break; // SHORT_BINUNICODE
        case 0x8d:
          this.push(utf8.decode(this.take(this.uint(8))));
          break; // BINUNICODE8
        case 0x42:
          this.push(this.take(this.uint(4)).slice());
          break; // BINBYTES
        case 0x43:
          this.push(this.take(this.uint(1)).slice());
          break; // SHORT_BINBYTES
        case 0x8e:
        case 0x96:
          this.push(this.take(this.uint(8)).slice());
          break; // BINBYTES8, BYTEARRAY8
        case 0x29:
          this.push([]);
          break; // EMPTY_TUPLE
        case 0x74:
          this.push(this.popMark());
          break; // TUPLE
        case 0x85:
          this.push([this.pop()]);
          break; // TUPLE1
        case 0x86: {
          const b = this.pop();
          this.push([this.pop(), b]);
          break;
        } // TUPLE2
        case 0x87: {
          const c = this.pop();
          const b = this.pop();
          this.push([this.pop(), b, c]);
          break;
        } // TUPLE3
        case 0x5d:
          this.push([]);
          break; // EMPTY_LIST
        case 0x6c:
          this.push(this.popMark());
          break; // LIST
        case 0x61:
          this.appendItems([this.pop()]);
          break; // APPEND
        case 0x65:
          this.appendItems(this.popMark());
          break; // APPENDS
        case 0x7d:
          this.push(new Map());
          break; // EMPTY_DICT
        case 0x64: {
          const items = this.popMark();
          this.push(new Map());
          this.setItems(items);
          break;
        } // DICT
        case 0x73: {
          const v = this.pop();
          this.setItems([this.pop(), v]);
          break;
        } // SETITEM
        case 0x75:
          this.setItems(this.popMark());
          break; // SETITEMS
        case 0x8f:
          this.push(new Set());
          break; // EMPTY_SET
        case 0x90:
          this.appendItems(this.popMark());
          break; // ADDITEMS
        case 0x91:
          this.push(new Set(this.popMark()));
          break; // FROZENSET
        case 0x63: {
          const module = this.line();
          this.push(new PyGlobal(module, this.line()));
          break;
        } // GLOBAL
        case 0x93: {
          const name = String(this.pop());
          this.push(new PyGlobal(String(this.pop()), name));
          break;
        } // STACK_GLOBAL
        case 0x52: {
          const args = this.pop();
          this.push(this.call(this.pop(), args as PyValue[]));
          break;
        } // REDUCE
        case 0x81: {
          const args = this.pop();
          this.push(this.call(this.pop(), args as PyValue[]));
          break;
        } // NEWOBJ
        case 0x92: {
          this.pop();
          const args = this.pop();
          this.push(this.call(this.pop(), args as PyValue[]));
          break;
        } // NEWOBJ_EX
        case 0x69: {
          const module = this.line();
          const cls = new PyGlobal(module, this.line());
          this.push(this.call(cls, this.popMark()));
          break;
        } // INST
        case 0x6f: {
          const [cls, ...args] = this.popMark();
          this.push(this.call(cls ?? null, args));
          break;
        } // OBJ
        case 0x62: {
          // BUILD: only placeholders keep their state; dict attributes and tensor state are not needed
          const state = this.pop();
          const target = this.top();
          if (target instanceof PyObject) target.state = state;
          break;
        }
        case 0x50:
          this.push(this.hooks.persistentLoad(this.line()));
          break; // PERSID
        case 0x51:
          this.push(this.hooks.persistentLoad(this.pop()));
          break; // BINPERSID
        case 0x67:
          this.push(this.memoGet(Number(this.line())));
          break; // GET
        case 0x68:
          this.push(this.memoGet(this.uint(1)));
          break; // BINGET
        case 0x6a:
          this.push(this.memoGet(this.uint(4)));
          break; // LONG_BINGET
        case 0x70:
          this.memo.set(Number(this.line()), this.top());
          break; // PUT
        case 0x71:
          this.memo.set(this.uint(1), this.top());
          break; // BINPUT
        case 0x72:
          this.memo.set(this.uint(4), this.top());
          break; // LONG_BINPUT
        case 0x94:
          this.memo.set(this.memo.size, this.top());
          break; // MEMOIZE
        default: {
          const hex = `0x${op.toString(16).padStart(2, '0')}`;
          if (UNSUPPORTED[op]) throw new CheckpointError(`unsupported pickle opcode ${UNSUPPORTED[op]} (${hex}) at byte ${this.opStart}`);
          throw new CheckpointError(`unknown pickle opcode ${hex} at byte ${this.opStart}: the data is not a pickle or is corrupted`);
        }
      }
    }
  }
}

/** Runs one pickle starting at `start`; `end` is the offset just past its STOP opcode. */
export function unpickle(bytes: Uint8Array, start: number, hooks: PickleHooks): { value: PyValue; end: number } {
  return new Machine(bytes, start, hooks).run();
}
