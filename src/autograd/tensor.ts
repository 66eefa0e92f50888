// Tensors: a shape and strides over a reference-counted storage that lives on a backend (a GPU
// buffer, or a typed array for the CPU reference). Views (slices, transposes, broadcasts) share the
// storage. Memory is returned to the backend's pool when the last tensor using it is disposed:
// explicitly, at the end of a `tidy` scope, or (as a safety net) when the tensor is garbage collected.

import type { Backend } from '../backends/backend.js';

export type DType = 'float32' | 'int32';
export type Shape = readonly number[];

export class Storage {
  refs = 0;
  constructor(
    readonly backend: Backend,
    /** GPUBuffer on a GPU backend, Float32Array / Int32Array on the CPU. */
    readonly handle: unknown,
    readonly elements: number,
  ) {}

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.backend.free(this);
  }
}

/** The tape entry of the op that made tensors: its inputs and outputs, and how to turn the outputs' gradients into the inputs'. */
export interface Node {
  name: string;
  inputs: Tensor[];
  outputs: Tensor[];
  backward: (grads: (Tensor | null)[]) => (Tensor | null)[];
}

const finalizer = new FinalizationRegistry<Storage>((storage) => storage.release());

export function sizeOf(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

export class Tensor {
  readonly size: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  /**
   * Where backward writes this leaf's gradient: its slot in an optimizer's gradient arena (null when
   * no optimizer holds it). The first contribution of a pass is written there, so zeroGrad() has
   * nothing to clear.
   */
  gradSlot: Tensor | null = null;
  node: Node | null = null;
  /** Counts in-place writes (optimizer steps, running statistics), so caches derived from it can tell. */
  version = 0;
  private disposed = false;
  private home: Storage;
  private start: number;

  constructor(
    storage: Storage,
    readonly shape: Shape,
    readonly strides: readonly number[] = contiguousStrides(shape),
    offset = 0,
    readonly dtype: DType = 'float32',
  ) {
    this.size = sizeOf(shape);
    this.home = storage;
    this.start = offset;
    storage.retain();
    finalizer.register(this, storage, this);
    currentScope()?.add(this);
  }

  get storage(): Storage {
    return this.home;
  }

  get offset(): number {
    return this.start;
  }

  get backend(): Backend {
    return this.home.backend;
  }

  /**
   * Moves a contiguous tensor (a parameter) to `offset` in `storage`, which must already hold its
   * values there: an optimizer packs its parameters into one arena so that one dispatch updates them
   * all. Views taken before the move keep the old memory.
   */
  relocate(storage: Storage, offset: number): void {
    this.check('relocate');
    if (!this.isContiguous()) throw new Error(`relocate: the tensor of shape [${this.shape}] is not contiguous`);
    storage.retain();
    finalizer.unregister(this);
    this.home.release();
    this.home = storage;
    this.start = offset;
    finalizer.register(this, storage, this);
    this.version++;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  isContiguous(): boolean {
    const expected = contiguousStrides(this.shape);
    return this.shape.every((n, d) => n === 1 || this.strides[d] === expected[d]);
  }

  /** Copies the tensor's elements to the CPU, in row-major order. */
  async data(): Promise<Float32Array | Int32Array> {
    this.check('data');
    return this.backend.read(this);
  }

  /** Like data(), for float tensors. */
  async floats(): Promise<Float32Array> {
    const d = await this.data();
    if (!(d instanceof Float32Array)) throw new Error('floats(): tensor is not float32');
    return d;
  }

  /** A new tensor over the same storage (no copy). */
  view(shape: Shape, strides: readonly number[], offset = this.offset): Tensor {
    this.check('view');
    return new Tensor(this.storage, shape, strides, offset, this.dtype);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    this.node = null;
    this.home.release();
  }

  check(op: string): void {
    if (this.disposed) throw new Error(`${op}: the tensor of shape [${this.shape}] was already disposed (was it created inside a tidy() that has ended?)`);
  }

  toString(): string {
    return `Tensor([${this.shape}], ${this.dtype}, ${this.backend.name})`;
  }
}

// ---- scopes -------------------------------------------------------------------------------------

const scopes: Set<Tensor>[] = [];

function currentScope(): Set<Tensor> | undefined {
  return scopes[scopes.length - 1];
}

function collect(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) value.forEach((v) => collect(v, into));
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) Object.values(value).forEach((v) => collect(v, into));
}

/**
 * Runs `fn` and disposes every tensor it created, except the ones it returns (in an array or plain
 * object too) and the ones passed to keep(); those move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scope.forEach((t) => t.dispose());
    throw error;
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) throw new Error('tidy(): the function must be synchronous');
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  const outer = currentScope();
  for (const t of scope) {
    if (survivors.has(t)) outer?.add(t);
    else t.dispose();
  }
  return result;
}

/** Lets `t` outlive every enclosing tidy() scope. */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  return t;
}
