// What the pickle of a PyTorch checkpoint means: storages named by persistent ids, tensors rebuilt as
// views of them, the state dict found inside the unpickled object, and the views gathered into
// contiguous tensors once the storages' bytes are known.

import { PyGlobal, PyObject, type PickleHooks, type PyValue } from './pickle.js';
import { CheckpointError, elementSize, numelOf, typedArrayOver, type DType, type StateDict } from './types.js';

export const STORAGE_CLASS: Record<DType, string> = {
  float32: 'FloatStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  float64: 'DoubleStorage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

const STORAGE_DTYPE = new Map(Object.entries(STORAGE_CLASS).map(([dtype, cls]) => [cls, dtype as DType]));

/** `numel` elements of the storage saved under `key`, starting `offset` elements into it. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly offset = 0,
  ) {}
}

export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** A tensor this reader cannot build; an error only if the state dict holds it. */
class UnsupportedTensor {
  constructor(readonly reason: string) {}
}

function describe(value: PyValue): string {
  if (value === null) return 'None';
  if (value instanceof PyObject) return `a ${value.className} object`;
  if (value instanceof Map) return 'a dict';
  if (Array.isArray(value)) return 'a list or tuple';
  return `a ${typeof value}`;
}

function text(value: PyValue): string {
  return value instanceof Uint8Array ? String.fromCharCode(...value) : String(value);
}

const isIntList = (value: PyValue): value is number[] => Array.isArray(value) && value.every((v) => Number.isInteger(v) && v >= 0);

function rebuildTensor([storage = null, offset = null, size = null, stride = null]: PyValue[]): TensorRef | UnsupportedTensor {
  if (storage instanceof PyObject && storage.className.endsWith('Storage')) {
    return new UnsupportedTensor(`its storage type ${storage.className} is not supported`);
  }
  if (!(storage instanceof StorageRef)) return new UnsupportedTensor(`its storage is ${describe(storage)}, not a storage`);
  if (!Number.isInteger(offset) || !isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
    return new UnsupportedTensor(`it has an invalid storage offset, size or stride`);
  }
  return new TensorRef(storage, offset as number, size, stride);
}

/** Pickle hooks for PyTorch: storages by persistent id, tensors and parameters by their rebuild functions. */
export class TorchHooks implements PickleHooks {
  /** Root storages by key, in the order they were first named. */
  readonly storages = new Map<string, StorageRef>();
  /** Class names of the storages whose type this reader does not support, by key. */
  readonly unsupported = new Map<string, string>();

  persistentLoad(pid: PyValue): PyValue {
    if (!Array.isArray(pid)) throw new CheckpointError(`unsupported persistent id ${describe(pid)}`);
    const kind = text(pid[0]);
    if (kind === 'module') return pid[1]; // legacy files name a pickled module's class this way
    if (kind !== 'storage') throw new CheckpointError(`unsupported persistent id '${kind}'`);
    const [, cls, rawKey, , numel, view] = pid;
    const key = text(rawKey);
    const dtype = cls instanceof PyGlobal && cls.module.startsWith('torch') ? STORAGE_DTYPE.get(cls.name) : undefined;
    if (!dtype) {
      this.unsupported.set(key, String(cls));
      return new PyObject(cls ?? null, []);
    }
    if (!Number.isInteger(numel)) throw new CheckpointError(`storage '${key}' has no valid element count`);
    let root = this.storages.get(key);
    if (!root) this.storages.set(key, (root = new StorageRef(key, dtype, numel as number)));
    if (view === null || view === undefined) return root;
    // Legacy storage views: (view key, offset, size) into the root storage.
    const offsetAndSize = Array.isArray(view) ? view.slice(1) : null;
    if (!isIntList(offsetAndSize) || offsetAndSize.length !== 2) throw new CheckpointError(`storage '${key}' has an invalid view`);
    return new StorageRef(key, dtype, offsetAndSize[1], offsetAndSize[0]);
  }

  call(fn: PyGlobal, args: PyValue[]): PyValue | undefined {
    switch (fn.toString()) {
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor':
        return rebuildTensor(args);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
      case 'torch.nn.parameter.Parameter':
        return args[0] instanceof TensorRef || args[0] instanceof UnsupportedTensor ? args[0] : undefined;
      case 'torch._tensor._rebuild_from_type_v2':
      case 'torch._tensor._rebuild_from_type': // (function, tensor subclass, arguments, state)
        return args[0] instanceof PyGlobal && Array.isArray(args[2]) ? this.call(args[0], args[2]) : undefined;
      default:
        return undefined;
    }
  }
}

/** The state dict inside the unpickled object: its tensors by name, `module.` prefixes removed. */
export function findTensors(root: PyValue): Map<string, TensorRef> {
  let dict = root;
  let where = 'the checkpoint';
  for (const key of ['state_dict', 'model']) {
    const inner = dict instanceof Map ? dict.get(key) : undefined;
    if (inner instanceof Map || inner instanceof PyObject) {
      dict = inner;
      where = `the checkpoint's '${key}' entry`;
      break;
    }
  }
  if (dict instanceof PyObject) {
    throw new CheckpointError(`${where} is a pickled ${dict.className} object, not a state dict (save model.state_dict() instead)`);
  }
  if (!(dict instanceof Map)) throw new CheckpointError(`${where} is ${describe(dict)}, not a dict of tensors`);
  const tensors = new Map<string, TensorRef>();
  for (const [key, value] of dict) {
    if (value instanceof TensorRef) tensors.set(text(key), value);
    else if (value instanceof UnsupportedTensor) throw new CheckpointError(`tensor '${text(key)}' cannot be read: ${value.reason}`);
    else if (value instanceof PyObject && value.className.startsWith('torch.') && value.className.includes('._rebuild')) {
      throw new CheckpointError(`tensor '${text(key)}' is built by ${value.className}, which is not supported`);
    }
  }
  const names = [...tensors.keys()];
  if (names.length === 0 || !names.every((name) => name.startsWith('module.'))) return tensors;
  return new Map([...tensors].map(([name, t]) => [name.slice('module.'.length), t]));
}

/** The elements a strided view selects, copied in row-major order. */
function gather(src: Uint8Array, size: number, start: number, shape: number[], stride: number[]): Uint8Array<ArrayBuffer> {
  const numel = numelOf(shape);
  let expected = 1;
  let contiguous = true;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) contiguous = false;
    expected *= shape[d];
  }
  if (contiguous) return src.slice(start * size, (start + numel) * size);
  const out = new Uint8Array(numel * size);
  const index = new Array<number>(shape.length).fill(0);
  let at = start;
  for (let i = 0; i < numel; i++) {
    for (let b = 0; b < size; b++) out[i * size + b] = src[at * size + b];
    for (let d = shape.length - 1; d >= 0; d--) {
      at += stride[d];
      if (++index[d] < shape[d]) break;
      at -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** Contiguous tensors from the views, given each root storage's bytes by key. */
export function materialize(tensors: Map<string, TensorRef>, storageBytes: Map<string, Uint8Array>): StateDict {
  const out: StateDict = new Map();
  for (const [name, t] of tensors) {
    const { key, dtype } = t.storage;
    const bytes = storageBytes.get(key);
    if (!bytes) throw new CheckpointError(`the data of storage '${key}' (tensor '${name}') is missing`);
    const size = elementSize(dtype);
    const available = Math.floor(bytes.length / size);
    const start = t.storage.offset + t.offset;
    const last = start + t.shape.reduce((sum, dim, d) => sum + (dim - 1) * t.stride[d], 0);
    if (numelOf(t.shape) > 0 && (start < 0 || last >= available)) {
      throw new CheckpointError(`tensor '${name}' reaches element ${last} of storage '${key}', which holds only ${available} elements`);
    }
    out.set(name, { dtype, shape: [...t.shape], data: typedArrayOver(dtype, gather(bytes, size, start, t.shape, t.stride).buffer) });
  }
  return out;
}
