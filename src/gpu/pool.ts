// GPU buffer pool. Sizes are rounded up to one of four classes per power of two (at most 25% slack;
// never past the largest storage binding when the request itself fits one), released buffers wait in a free list of their class and are handed out again, so that a training
// step allocates no new GPU buffer once the first step has run.
//
// Reuse is safe without fences: a buffer is only ever written by work submitted to the one queue,
// and the queue runs that work in order. A recording's buffers (Gpu.record) are pinned: its replays
// write them, so none is handed out again until it is discarded; nor, while one is being recorded, are
// its buffers handed to the work outside it (Gpu.unrecorded), whose results outlive its replays.

export const STORAGE_USAGE = 0x0080 /* STORAGE */ | 0x0004 /* COPY_SRC */ | 0x0008; /* COPY_DST */

export function sizeClass(bytes: number): number {
  const minimum = 256;
  if (bytes <= minimum) return minimum;
  const step = 2 ** Math.max(Math.floor(Math.log2(bytes)) - 2, 0);
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Bytes in every buffer this pool created and has not destroyed, in use or free. */
  heldBytes = 0;
  peakHeldBytes = 0;
  inUseBytes = 0;
  /** Buffers created since construction; flat during steady-state training. */
  created = 0;
  /** Bytes in buffers recordings hold pinned (in use by them or by tensors). */
  pinnedBytes = 0;
  /** Buffers a recording replays (Gpu.record): one released stays out of the free lists until unpinned. */
  private readonly pinned = new Set<GPUBuffer>();
  private readonly releasedWhilePinned = new Set<GPUBuffer>();
  /** While set, every buffer handed out is added to it. */
  acquiredLog: Set<GPUBuffer> | null = null;
  /** While set, no buffer in it is handed out (those of a recording under way, to work outside it). */
  avoid: Set<GPUBuffer> | null = null;

  /** `bindable`: the largest storage binding, which a buffer that fits one must not outgrow by rounding. */
  constructor(
    private device: GPUDevice,
    private usage: number = STORAGE_USAGE,
    private bindable = Infinity,
  ) {}

  acquire(bytes: number): GPUBuffer {
    const rounded = sizeClass(bytes);
    const size = rounded > this.bindable && bytes <= this.bindable ? this.bindable : rounded;
    const list = this.free.get(size);
    this.inUseBytes += size;
    const buffer = this.takeFree(list) ?? this.create(size);
    this.acquiredLog?.add(buffer);
    return buffer;
  }

  private takeFree(list: GPUBuffer[] | undefined): GPUBuffer | undefined {
    if (!list || !this.avoid) return list?.pop();
    for (let at = list.length - 1; at >= 0; at--) if (!this.avoid.has(list[at])) return list.splice(at, 1)[0];
    return undefined;
  }

  release(buffer: GPUBuffer): void {
    if (this.pinned.has(buffer)) {
      this.releasedWhilePinned.add(buffer);
      return;
    }
    const size = buffer.size;
    this.inUseBytes -= size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
  }

  /** Keeps `buffers` from being handed out again until unpinned, taking back those already free. */
  pin(buffers: Iterable<GPUBuffer>): void {
    for (const buffer of buffers) {
      const list = this.free.get(buffer.size);
      const at = list?.indexOf(buffer) ?? -1;
      if (list && at >= 0) {
        list.splice(at, 1);
        this.inUseBytes += buffer.size;
        this.releasedWhilePinned.add(buffer);
      }
      if (!this.pinned.has(buffer)) this.pinnedBytes += buffer.size;
      this.pinned.add(buffer);
    }
  }

  /** Lets `buffers` go back into use: those their tensors released meanwhile return to the free lists. */
  unpin(buffers: Iterable<GPUBuffer>): void {
    for (const buffer of buffers) {
      if (this.pinned.delete(buffer)) this.pinnedBytes -= buffer.size;
      if (this.releasedWhilePinned.delete(buffer)) this.release(buffer);
    }
  }

  private create(size: number): GPUBuffer {
    this.created++;
    this.heldBytes += size;
    this.peakHeldBytes = Math.max(this.peakHeldBytes, this.heldBytes);
    return this.device.createBuffer({ size, usage: this.usage });
  }
}
