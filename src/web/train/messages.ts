// The messages between the Train view and its Web Worker.

import type { EpochReport } from '../../train/core.js';
import type { FolderFile } from './data.js';
import type { ProgressEvent } from './run.js';

export type ToWorker =
  | { type: 'start'; folder: FolderFile[]; settings: Record<string, unknown>; weights: { name: string; file: Blob } | null; valFraction: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'adapter'; name: string }
  | { type: 'log'; line: string }
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'epoch'; report: EpochReport }
  | { type: 'file'; name: string; data: Uint8Array }
  | { type: 'done'; stopped: boolean }
  /** `kind`: what went wrong, for the message the page shows (bad data or settings, no WebGPU, the GPU failing, anything else). */
  | { type: 'error'; kind: 'input' | 'no-webgpu' | 'gpu' | 'other'; message: string };
