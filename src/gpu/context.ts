// The GPU runtime every kernel goes through: kernel variants generated once per explicit key
// (memoKernel) and a compute-pipeline cache keyed by that key (or by the full WGSL text for a
// kernel built without one), a buffer pool, per-dispatch shape parameters packed into one uniform
// buffer per submission, many dispatches recorded into one compute pass and submitted together,
// each bind group made once while its buffers come back, and recordings of dispatches to replay.

import { BufferPool } from './pool.js';
import type { AdapterDescription, OpenedDevice, Settle } from './device.js';
import { type DeviceProfile, type DirectBlocks, deviceProfile, type ProfileName, profileFromEnvironment } from './profile.js';

/** A storage buffer bound to a kernel; offset and size in bytes (offset aligned to the device's storage alignment). */
export interface Binding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

/** One compute kernel: its name (for error messages and profiles), its u32 parameters, and its WGSL. */
export interface Kernel {
  name: string;
  /** Names of the u32 fields of the uniform struct `P` (binding 0); floats travel as bit patterns. */
  params: readonly string[];
  /** The shader after the uniform declaration: storage bindings from @binding(1) on, and `fn main`. */
  wgsl: string;
  /** The variant's key, `name(variant...)`, set by memoKernel: the pipeline cache's key. Without it, the WGSL text is. */
  readonly key?: string;
}

/** What a kernel's WGSL may depend on besides the uniforms: tile sizes, flags, a fused expression's text. */
export type KeyPart = string | number | boolean;

/** Set to 1 to rebuild every memoised kernel on each use and fail if its text for a key ever changes. */
export const CHECK_KERNELS_ENV = 'SHUFFLENET_CHECK_KERNELS';
const memoNames = new Set<string>();

/**
 * Wraps a kernel builder so that each variant is generated once: `memoKernel('sgd', (workgroup,
 * momentum) => ({ params, wgsl }))` returns a function giving the same Kernel object, keyed
 * `sgd(64,true)`, for the same arguments. Everything the WGSL depends on must be an argument.
 */
export function memoKernel<A extends KeyPart[]>(name: string, build: (...variant: A) => Omit<Kernel, 'name' | 'key'>): (...variant: A) => Kernel {
  if (memoNames.has(name)) throw new Error(`memoKernel: two kernels are named ${name}`);
  memoNames.add(name);
  const variants = new Map<string, Kernel>();
  const check = typeof process !== 'undefined' && process.env?.[CHECK_KERNELS_ENV] === '1';
  return (...variant: A): Kernel => {
    const key = `${name}(${variant.join(',')})`;
    const known = variants.get(key);
    if (known === undefined) {
      const kernel: Kernel = { name, key, ...build(...variant) };
      variants.set(key, kernel);
      return kernel;
    }
    if (check) {
      const again = build(...variant);
      if (again.wgsl !== known.wgsl || again.params.join() !== known.params.join()) {
        throw new Error(`${key}: the kernel's text changed for the same key (an input of its WGSL is missing from the key)`);
      }
    }
    return known;
  };
}

export type Params = Record<string, number>;

/**
 * Dispatches recorded once (Gpu.record) to be issued again without the code that computed them: the
 * kernels, bindings, workgroup counts and parameters of each, and the buffers they use that the
 * recorded work took from the pool, pinned there until the recording is discarded.
 */
export type RecordedCall = Parameters<Gpu['run']>;

export interface Recording {
  readonly calls: readonly RecordedCall[];
  readonly buffers: readonly GPUBuffer[];
}

/** How a Gpu is set up: the profile to force, and smaller limits to emulate a smaller device (tests). */
export interface GpuOptions {
  profile?: ProfileName;
  /** Workgroups per dimension the kernels' grid-stride loops get (at most the device's limit). */
  maxGroups?: number;
  /** Bytes one tensor or scratch buffer may take (at most the device's binding limit). */
  largestBinding?: number;
  /** The profile's serialBatchNormUpTo instead (the kernel tests check the workgroup batch norm on the software profile with 0). */
  serialBatchNormUpTo?: number;
  /** The profile's directBlocks instead (the kernel tests run each adapter's register blocks on both adapters). */
  directBlocks?: DirectBlocks;
  /** The profile's windowQuads instead (the kernel tests check the quad paths on every adapter). */
  windowQuads?: boolean;
}

const UNIFORM_ARENA_BYTES = 1 << 18;
/** Bind groups kept for reuse; a training step of x2_0 makes about 400. */
const BIND_GROUP_CACHE = 8192;
const MAP_READ = 0x0001;
const COPY_DST = 0x0008;
const UNIFORM = 0x0040;

/** Bit pattern of a float32, for float uniform parameters. */
export function f32bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

export interface DispatchTiming {
  name: string;
  ns: number;
}

export class Gpu {
  readonly limits: GPUSupportedLimits;
  readonly pool: BufferPool;
  /**
   * The largest storage buffer a kernel can bind: the smaller of the binding and buffer limits, less
   * 256 bytes (Dawn pads allocations: SwiftShader refuses a buffer of exactly its 1 GiB limit).
   * Every tensor and scratch buffer must fit; larger work is split (im2col in chunks of images).
   */
  readonly largestBinding: number;
  /** Workgroups per dimension a grid-stride kernel is given: the device's limit (or less, emulated). */
  readonly maxGroups: number;
  /** Every tuning choice of the kernels (software or hardware adapter, or as SHUFFLENET_PROFILE forces). */
  readonly profile: DeviceProfile;
  readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Time spent creating pipelines (shader compilation), milliseconds. */
  compileMs = 0;
  dispatches = 0;
  submissions = 0;
  /** Bind groups created; flat once a repeated step finds all of its own in the cache. */
  bindGroupsCreated = 0;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniformSlot: number;
  private readonly uniforms: GPUBuffer;
  private readonly uniformData = new Uint32Array(UNIFORM_ARENA_BYTES / 4);
  private uniformUsed = 0;
  private readonly staging: BufferPool;
  private errors: string[] = [];
  private profiler: Profiler | null = null;
  private recorder: RecordedCall[] | null = null;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 0;

  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  private readonly settle: Settle;

  constructor(opened: OpenedDevice, options: GpuOptions = {}) {
    const { device, adapter } = opened;
    this.device = device;
    this.adapter = adapter;
    this.settle = opened.settle ?? ((promise) => promise);
    this.limits = device.limits;
    const profile = deviceProfile(adapter, device.limits, options.profile ?? profileFromEnvironment());
    this.profile = {
      ...profile,
      serialBatchNormUpTo: options.serialBatchNormUpTo ?? profile.serialBatchNormUpTo,
      windowQuads: options.windowQuads ?? profile.windowQuads,
      directBlocks: options.directBlocks ?? profile.directBlocks,
    };
    this.maxGroups = Math.min(options.maxGroups ?? Infinity, device.limits.maxComputeWorkgroupsPerDimension);
    this.largestBinding = Math.min(options.largestBinding ?? Infinity, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) - 256;
    this.uniformSlot = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
    this.pool = new BufferPool(device, undefined, this.largestBinding);
    this.staging = new BufferPool(device, MAP_READ | COPY_DST);
    this.uniforms = device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: UNIFORM | COPY_DST });
    device.addEventListener('uncapturederror', (event) => {
      this.errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** The compute pipeline for a kernel, compiled once per key (memoKernel) or else per distinct WGSL text. */
  pipeline(kernel: Kernel): GPUComputePipeline {
    const cacheKey = kernel.key ?? uniformHeader(kernel.params) + kernel.wgsl;
    let pipeline = this.pipelines.get(cacheKey);
    if (!pipeline) {
      const code = uniformHeader(kernel.params) + kernel.wgsl;
      const start = performance.now();
      const module = this.device.createShaderModule({ code, label: kernel.name });
      pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: kernel.name });
      this.compileMs += performance.now() - start;
      this.pipelines.set(cacheKey, pipeline);
    }
    return pipeline;
  }

  /**
   * Workgroups for `items` items, `perGroup` to a workgroup, at most the per-dimension limit: every
   * kernel walks its range with a grid-stride loop, so a clamped grid still covers it.
   */
  groupsFor(items: number, perGroup: number): number {
    return Math.min(Math.ceil(items / perGroup), this.maxGroups);
  }

  /** Records one dispatch of `kernel` over `groups` workgroups, its bindings from @binding(1) on. */
  run(kernel: Kernel, bindings: Binding[], groups: [number, number?, number?], params: Params = {}): void {
    this.recorder?.push([kernel, bindings, groups, params]);
    const pipeline = this.pipeline(kernel);
    const [x, y = 1, z = 1] = groups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new Error(`${kernel.name}: dispatch of ${x}x${y}x${z} workgroups exceeds the device limit of ${maxGroups} per dimension`);
    }
    const slotBytes = Math.max(16, Math.ceil((kernel.params.length * 4) / 16) * 16);
    if (this.uniformUsed + slotBytes > UNIFORM_ARENA_BYTES) this.flush();
    const uniformOffset = this.uniformUsed;
    let given = 0;
    for (const _name in params) given++;
    if (given !== kernel.params.length) unexpectedParams(kernel, params);
    kernel.params.forEach((name, i) => {
      const value = params[name];
      if (value === undefined) throw new Error(`${kernel.name}: parameter ${name} was not given`);
      this.uniformData[uniformOffset / 4 + i] = value >>> 0;
    });
    this.uniformUsed += Math.ceil(slotBytes / this.uniformSlot) * this.uniformSlot;

    const bindGroup = this.bindGroup(pipeline, uniformOffset, slotBytes, bindings);

    const pass = this.computePass(kernel.name);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    if (this.profiler) this.endPass();
  }

  /**
   * Runs `work` (which records dispatches, and uploads nothing that differs from one run to the next)
   * and keeps its dispatches for replay. Every buffer the work takes from the pool stays pinned, its
   * contents for the replays alone, until discard; buffers from before it (weights, the input) are
   * the caller's to keep alive and unchanged, or to refill before a replay.
   */
  record(work: () => void): Recording {
    if (this.recorder) throw new Error('Gpu.record: already recording');
    const calls: RecordedCall[] = [];
    const acquired = new Set<GPUBuffer>();
    this.recorder = calls;
    this.pool.acquiredLog = acquired;
    try {
      work();
    } finally {
      this.recorder = null;
      this.pool.acquiredLog = null;
    }
    this.pool.pin(acquired);
    return { calls, buffers: [...acquired] };
  }

  /**
   * Runs `work` outside the recording under way, if any: its dispatches run now and are not replayed,
   * and the buffers it takes are none of the recording's and stay unpinned. For what a forward derives
   * from the weights and caches (folded batch norms, transposed weights), which a recording keyed by
   * the weights' versions reads and need not redo.
   */
  unrecorded<T>(work: () => T): T {
    const calls = this.recorder;
    const acquired = this.pool.acquiredLog;
    const avoided = this.pool.avoid; // set when nested in other work outside the recording
    this.recorder = null;
    this.pool.acquiredLog = null;
    this.pool.avoid = acquired ?? avoided;
    try {
      return work();
    } finally {
      this.recorder = calls;
      this.pool.acquiredLog = acquired;
      this.pool.avoid = avoided;
    }
  }

  /** Issues a recording's dispatches again, in order. */
  replay(recording: Recording): void {
    for (const call of recording.calls) this.run(...call);
  }

  /** Gives a recording's buffers back to the pool (or to their tensors, where those still hold them). */
  discard(recording: Recording): void {
    this.pool.unpin(recording.buffers);
  }

  /** Copies `data` into `buffer` after all work recorded so far. */
  upload(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.flush();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies `byteLength` bytes of `buffer` from `byteOffset` back to the CPU, after all work recorded so far. */
  async read(buffer: GPUBuffer, byteOffset: number, byteLength: number): Promise<ArrayBuffer> {
    const alignedStart = byteOffset - (byteOffset % 4);
    const alignedLength = Math.ceil((byteOffset + byteLength - alignedStart) / 4) * 4;
    const staging = this.staging.acquire(alignedLength);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(buffer, alignedStart, staging, 0, alignedLength);
    this.flush();
    await this.settle(staging.mapAsync(MAP_READ, 0, alignedLength));
    const out = staging.getMappedRange(0, alignedLength).slice(byteOffset - alignedStart, byteOffset - alignedStart + byteLength);
    staging.unmap();
    this.staging.release(staging);
    this.throwErrors();
    return out;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniforms, 0, this.uniformData.buffer, 0, this.uniformUsed);
      this.uniformUsed = 0;
    }
    this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.submissions++;
  }

  /** Resolves when the GPU has finished all submitted work; reports any GPU error met on the way. */
  async sync(): Promise<void> {
    this.flush();
    await this.settle(this.device.queue.onSubmittedWorkDone());
    this.throwErrors();
  }

  /**
   * Runs `work` with a GPU timestamp around every dispatch (where the adapter has timestamp queries)
   * and returns the time of each; dispatches then each get a compute pass of their own.
   */
  async timeDispatches(work: () => void | Promise<void>): Promise<DispatchTiming[] | null> {
    if (!this.device.features.has('timestamp-query')) return null;
    await this.sync();
    const profiler = (this.profiler = new Profiler(this.device, this.settle));
    try {
      await work();
      this.flush();
      return await profiler.timings();
    } finally {
      this.profiler = null;
    }
  }

  private throwErrors(): void {
    if (this.errors.length === 0) return;
    const message = this.errors.join('\n');
    this.errors = [];
    throw new Error(`WebGPU error: ${message}`);
  }

  /**
   * The bind group of one dispatch, made once and reused for as long as the same pipeline, buffers,
   * ranges and uniform slot come back: a repeated step takes its buffers from the pool in the same
   * order, and creating a bind group was a third of the time spent recording a dispatch. The cache is
   * emptied when it reaches BIND_GROUP_CACHE entries.
   */
  private bindGroup(pipeline: GPUComputePipeline, uniformOffset: number, uniformBytes: number, bindings: Binding[]): GPUBindGroup {
    let key = `${this.objectId(pipeline)}:${uniformOffset}:${uniformBytes}`;
    for (const b of bindings) key += `:${this.objectId(b.buffer)}@${b.offset ?? 0}+${b.size ?? ''}`;
    let group = this.bindGroups.get(key);
    if (group) return group;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniforms, offset: uniformOffset, size: uniformBytes } }];
    bindings.forEach((b, i) => {
      // dawn.node reads an explicit `size: undefined` as a size, so leave the key out when unset.
      const resource: GPUBufferBinding = { buffer: b.buffer, offset: b.offset ?? 0 };
      if (b.size !== undefined) resource.size = b.size;
      entries.push({ binding: i + 1, resource });
    });
    group = this.device.createBindGroup({ layout: this.layoutOf(pipeline), entries });
    this.bindGroupsCreated++;
    if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
    this.bindGroups.set(key, group);
    return group;
  }

  private objectId(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  private layoutOf(pipeline: GPUComputePipeline): GPUBindGroupLayout {
    let layout = this.layouts.get(pipeline);
    if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
    return layout;
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(name: string): GPUComputePassEncoder {
    if (!this.pass) {
      const timestampWrites = this.profiler?.next(name);
      this.pass = this.commandEncoder().beginComputePass(timestampWrites ? { timestampWrites } : {});
    }
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

/** Throws naming the parameters a dispatch gave that its kernel does not declare, or the first missing one. */
function unexpectedParams(kernel: Kernel, params: Params): never {
  const extra = Object.keys(params).filter((name) => !kernel.params.includes(name));
  if (extra.length > 0) throw new Error(`${kernel.name}: parameter(s) ${extra.join(', ')} given but not declared`);
  const missing = kernel.params.find((name) => params[name] === undefined);
  throw new Error(missing !== undefined ? `${kernel.name}: parameter ${missing} was not given` : `${kernel.name}: a parameter is declared twice`);
}

function uniformHeader(params: readonly string[]): string {
  const fields = params.length > 0 ? params.map((p) => `  ${p}: u32,`).join('\n') : '  unused: u32,';
  return `struct Params {\n${fields}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n`;
}

/** Timestamp queries around each dispatch, resolved into one buffer per submission. */
class Profiler {
  private names: string[] = [];
  private sets: { querySet: GPUQuerySet; count: number; result: GPUBuffer }[] = [];
  private current: GPUQuerySet | null = null;
  private used = 0;
  private static readonly CAPACITY = 2048;

  constructor(
    private device: GPUDevice,
    private settle: Settle,
  ) {}

  next(name: string): GPUComputePassTimestampWrites {
    if (!this.current || this.used + 2 > Profiler.CAPACITY) {
      this.current = this.device.createQuerySet({ type: 'timestamp', count: Profiler.CAPACITY });
      this.used = 0;
      this.sets.push({
        querySet: this.current,
        count: 0,
        result: this.device.createBuffer({ size: Profiler.CAPACITY * 8, usage: 0x0200 | 0x0004 /* QUERY_RESOLVE | COPY_SRC */ }),
      });
    }
    this.names.push(name);
    const begin = this.used;
    this.used += 2;
    this.sets[this.sets.length - 1].count = this.used;
    return { querySet: this.current, beginningOfPassWriteIndex: begin, endOfPassWriteIndex: begin + 1 };
  }

  resolve(encoder: GPUCommandEncoder): void {
    for (const set of this.sets) if (set.count > 0) encoder.resolveQuerySet(set.querySet, 0, set.count, set.result, 0);
  }

  async timings(): Promise<DispatchTiming[]> {
    const out: DispatchTiming[] = [];
    let index = 0;
    for (const set of this.sets) {
      const staging = this.device.createBuffer({ size: set.count * 8, usage: MAP_READ | COPY_DST });
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(set.result, 0, staging, 0, set.count * 8);
      this.device.queue.submit([encoder.finish()]);
      await this.settle(staging.mapAsync(MAP_READ));
      const stamps = new BigUint64Array(staging.getMappedRange());
      for (let i = 0; i < set.count; i += 2) out.push({ name: this.names[index++], ns: Number(stamps[i + 1] - stamps[i]) });
      staging.destroy();
      set.querySet.destroy();
      set.result.destroy();
    }
    return out;
  }
}
