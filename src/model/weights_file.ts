// Reading a checkpoint file into a model (Node): the file's format is sniffed (.pth zip or legacy,
// safetensors), and problems come back as one clear message naming the file.

import { readFileSync } from 'node:fs';
import { readCheckpoint, type StateDict } from './checkpoint/index.js';
import type { ShuffleNetV2 } from './shufflenet.js';
import { type LoadReport, loadStateDictLogged } from './state.js';

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
  return loadStateDictLogged(model, await readCheckpointFile(path), { allowNewClassifier, source: path }, log);
}
