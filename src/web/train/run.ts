// Training in a browser (in a Web Worker, or on a page for demo authors): the loop of
// src/train/core.ts over a chosen folder's File objects, decoded by the engine's own decoders in
// this thread, with the run's files kept in memory (the names the CLI's run folder has) and handed
// out as they are written, so that what was trained so far stays downloadable if a run breaks off.
// Call initBackend() first.

import { getBackend } from '../../autograd/default_backend.js';
import { BatchLoader, LocalRunner } from '../../data/batches.js';
import { ImageCache } from '../../data/sample.js';
import { readCheckpoint } from '../../model/checkpoint/index.js';
import { writeZip } from '../../model/checkpoint/zip_write.js';
import { type EpochReport, runTraining, type RunSink } from '../../train/core.js';
import { adapterName } from '../adapter_name.js';
import { folderData, type FolderFile } from './data.js';
import { parseSettings, type TrainSettings, trainConfig } from './settings.js';

export interface ProgressEvent {
  label: string;
  done: number;
  total: number;
  /** Seconds since the pass began. */
  elapsed: number;
  extra: string;
  final: boolean;
}

export interface BrowserTrainOptions {
  /** By `train`'s flag names; the rest keep the CLI's defaults. */
  settings?: Partial<Record<keyof TrainSettings, unknown>>;
  /** A torchvision .pth or .safetensors to start from (else random weights from the seed). */
  weights?: { name: string; file: Blob } | null;
  /** With class folders alone: the fraction split off for validation (default 0.2). */
  valFraction?: number;
  onLog?(line: string): void;
  onProgress?(event: ProgressEvent): void;
  onEpoch?(report: EpochReport): void;
  /** Each run file as it is written (again when it is rewritten). */
  onFile?(name: string, data: Uint8Array): void;
  /** Checked before every training step: true stops the run after the step under way. */
  stopRequested?(): boolean;
}

export interface BrowserRun {
  classes: string[];
  /** The run's files by their names in the CLI's run folder ('train_log.json', 'weights/best.pth', ...). */
  files: Map<string, Uint8Array>;
}

/** Decoded images kept per run. */
const CACHE_BYTES = 512 * 2 ** 20;

/** The run's files as one zip archive (stored entries) under the folder `folder`. */
export function runZip(files: ReadonlyMap<string, Uint8Array>, folder = 'run'): Uint8Array {
  return writeZip([...files.keys()].sort().map((name) => ({ name: `${folder}/${name}`, data: files.get(name)! })));
}

/** Trains on a chosen folder's files (paths below the folder: train/<class>/..., val/<class>/..., or <class>/...). */
export async function trainFromFiles(folder: readonly FolderFile[], options: BrowserTrainOptions = {}): Promise<BrowserRun> {
  const settings = parseSettings(options.settings ?? {});
  const valFraction = options.valFraction ?? 0.2;
  const { data, files: sampleFiles, leftOut, layout } = folderData(folder, valFraction, settings.seed);
  const log = (line: string) => options.onLog?.(line);
  for (const f of leftOut) log(`warning: ${f.message} — left out of the run`);
  const files = new Map<string, Uint8Array>();
  const encoder = new TextEncoder();
  const sink: RunSink = {
    async open() {
      return 'this browser';
    },
    write(name, contents) {
      const bytes = typeof contents === 'string' ? encoder.encode(contents) : contents;
      files.set(name, bytes);
      options.onFile?.(name, bytes);
    },
    log,
    progress(label, total) {
      const started = performance.now();
      let done = 0;
      const report = (extra: string, final: boolean) =>
        options.onProgress?.({ label, done, total, elapsed: (performance.now() - started) / 1000, extra, final });
      return {
        tick(n, extra = '') {
          done += n;
          report(extra, false);
        },
        finish: (extra = '') => report(extra, true),
      };
    },
    epochDone: (report) => options.onEpoch?.(report),
  };
  const read = async (file: string) => new Uint8Array(await sampleFiles.get(file)!.arrayBuffer());
  const runner = new LocalRunner(new ImageCache(CACHE_BYTES, read), () => new Promise((resolve) => setTimeout(resolve, 0)));
  const loader = new BatchLoader(runner, { imgSize: settings['img-size'], seed: settings.seed });
  const splitName = `class folders, ${valFraction} split off for validation (seed ${settings.seed})`;
  const config = trainConfig(
    settings,
    layout === 'train/val' ? { train: 'train', val: 'val' } : { train: splitName, val: splitName },
    options.weights?.name ?? null,
  );
  const weights = options.weights;
  await runTraining({
    config,
    adapter: adapterName(getBackend()),
    data,
    loader,
    sink,
    initialWeights: async () =>
      weights ? { state: await readCheckpoint(new Uint8Array(await weights.file.arrayBuffer()), weights.name), source: weights.name } : null,
    stopRequested: options.stopRequested,
  });
  if (leftOut.length > 0) log(`left out ${leftOut.length} file${leftOut.length > 1 ? 's' : ''} that are not images: ${leftOut.map((f) => f.file).join(', ')}`);
  return { classes: data.classes, files };
}
