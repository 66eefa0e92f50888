// Reading a checkpoint file into a model (Node): the file's format is sniffed (.pth zip or legacy,
// safetensors), and problems come back as one clear message naming the file.

import { readFileSync } from 'node:fs';
import { readCheckpoint, type StateDict } from './checkpoint/index.js';
import type { ShuffleNetV2 } from './shufflenet.js';
import { type LoadReport, loadStateDict } from './state.js';

export async function readCheckpointFile(path: string): Promise<StateDict> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read the weights file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return readCheckpoint(bytes, path);
}

/** Loads `path` into `model`; with `allowNewClassifier`, a class-count mismatch keeps a fresh fc (and says so). */
export async function loadWeightsFile(model: ShuffleNetV2, path: string, allowNewClassifier = false, log: (s: string) => void = console.error): Promise<LoadReport> {
  const report = loadStateDict(model, await readCheckpointFile(path), { allowNewClassifier, source: path });
  if (report.filled.length > 0) log(`${path}: no num_batches_tracked in the file (saved by an old PyTorch); set to 0`);
  if (report.freshClassifier) {
    const { checkpointClasses, modelClasses } = report.freshClassifier;
    log(`${path}: its classifier has ${checkpointClasses} classes, the model ${modelClasses}: fc keeps fresh random weights, everything else is loaded`);
  }
  return report;
}
