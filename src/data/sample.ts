// One sample's preprocessing, the same in a worker thread, in the main thread and in a browser's Web
// Worker: decode (cached), then the training transform (random resized crop + flip, from a per-sample
// seed) or the evaluation transform (resize + centre crop), normalised CHW float32. Where the bytes
// come from (a file on disk, a browser File) is the caller's `read`.

import { decodeImage } from './decode.js';
import type { RgbImage } from './image.js';
import { Rng } from './rng.js';
import { evalTransform, trainTransform } from './transforms.js';

export type SampleMode = 'scan' | 'train' | 'eval';

export interface SampleTask {
  id: number;
  file: string;
  mode: SampleMode;
  imgSize: number;
  /** Seed of this sample's augmentation (train mode). */
  seed: number;
}

export type SampleResult = { id: number; data: Float32Array } | { id: number; error: string };

/** A sample's bytes by its file name. */
export type ReadBytes = (file: string) => Uint8Array | Promise<Uint8Array>;

/** Decoded images, kept while they fit in `capacityBytes`. */
export class ImageCache {
  private images = new Map<string, RgbImage>();
  private bytes = 0;

  constructor(
    private readonly capacityBytes: number,
    private readonly read: ReadBytes,
  ) {}

  async get(file: string): Promise<RgbImage> {
    let img = this.images.get(file);
    if (!img) {
      img = decodeImage(await this.read(file), file);
      if (this.bytes + img.data.length <= this.capacityBytes) {
        this.images.set(file, img);
        this.bytes += img.data.length;
      }
    }
    return img;
  }
}

export async function runTask(task: SampleTask, cache: ImageCache): Promise<SampleResult> {
  try {
    const img = await cache.get(task.file);
    if (task.mode === 'scan') return { id: task.id, data: new Float32Array(0) };
    const data = task.mode === 'train' ? trainTransform(img, task.imgSize, new Rng(task.seed)) : evalTransform(img, task.imgSize);
    return { id: task.id, data };
  } catch (e) {
    return { id: task.id, error: (e as Error).message };
  }
}

/** A 32-bit seed mixed from integers (run seed, epoch, sample index), for independent streams. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
