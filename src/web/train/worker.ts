// The Train view's Web Worker (bundled to dist/browser/train-worker.js): opens WebGPU in the worker,
// trains on the folder the page sends (decoding included, so the page stays responsive), and posts
// back log lines, progress, each finished epoch and every run file as it is written. The page starts
// one worker per run; 'stop' ends it after the step under way, keeping the files of the last completed epoch.

import {
  adapterName,
  CheckpointError,
  DatasetError,
  GpuBackend,
  initBackend,
  NoAdapterError,
  SettingsError,
  StateDictError,
  trainFromFiles,
  TrainingStopped,
} from '../engine.js';
import type { FromWorker, ToWorker } from './messages.js';

const post = (message: FromWorker, transfer: Transferable[] = []) => self.postMessage(message, { transfer });
let stop = false;

async function start(message: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  if (!('gpu' in navigator)) {
    post({ type: 'error', kind: 'no-webgpu', message: "WebGPU is not available in this browser's workers (navigator.gpu is missing)" });
    return;
  }
  const backend = await initBackend();
  post({ type: 'adapter', name: adapterName(backend) });
  if (backend instanceof GpuBackend) {
    void backend.gpu.device.lost.then((info) => {
      if (info.reason !== 'destroyed') post({ type: 'error', kind: 'gpu', message: `the GPU device was lost mid-run (${info.message || info.reason})` });
    });
  }
  await trainFromFiles(message.folder, {
    settings: message.settings,
    weights: message.weights,
    valFraction: message.valFraction,
    onLog: (line) => post({ type: 'log', line }),
    onProgress: (event) => post({ type: 'progress', event }),
    onEpoch: (report) => post({ type: 'epoch', report }),
    onFile: (name, data) => {
      const copy = data.slice();
      post({ type: 'file', name, data: copy }, [copy.buffer]);
    },
    stopRequested: () => stop,
  });
  post({ type: 'done', stopped: false });
}

function kindOf(e: unknown): 'input' | 'no-webgpu' | 'gpu' | 'other' {
  if (e instanceof DatasetError || e instanceof SettingsError || e instanceof StateDictError || e instanceof CheckpointError) return 'input';
  if (e instanceof NoAdapterError) return 'no-webgpu';
  // The engine's WebGPU errors (validation, out of memory) and a lost device's failed readbacks.
  if (e instanceof Error && /GPU|device|buffer|memory|mapAsync/i.test(`${e.name} ${e.message}`)) return 'gpu';
  return 'other';
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === 'stop') {
    stop = true;
    return;
  }
  start(message).catch((e: unknown) => {
    if (e instanceof TrainingStopped && stop) post({ type: 'done', stopped: true });
    else post({ type: 'error', kind: e instanceof TrainingStopped ? 'other' : kindOf(e), message: e instanceof Error ? e.message : String(e) });
  });
};
