// Training in Node: the platform-neutral loop of core.ts with the data read from ImageFolder trees
// on disk (decoded in worker threads), the initial weights from a file or the torch hub cache, and
// the results in a new run folder <save_ret>/exp<N> (files written atomically), with terminal
// progress bars.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import type { Backend } from '../backends/backend.js';
import { initBackend } from '../autograd/default_backend.js';
import { DataLoader } from '../data/loader.js';
import { checkClassCount } from '../data/dataset.js';
import { datasetFingerprint, imageFolder } from '../data/folder.js';
import { splitCsv, splitFolder } from '../data/split.js';
import { resolvePretrained } from '../model/pretrained.js';
import { readCheckpointFile } from '../model/weights_file.js';
import { ProgressBar } from '../util/progress.js';
import { checkClasses, RESUME_FILE, runTraining, type RunSink, type TrainConfig } from './core.js';
import { createRunDir, writeAtomic } from './files.js';

export { learningRate, type OptimizerName, type TrainConfig, TrainingStopped } from './core.js';

export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, cpus().length - 1));
}

/** SHUFFLENET_STEP_LOG=FILE: every training step's loss appended to FILE, a JSON line each (for the parity test). */
const STEP_LOG = process.env.SHUFFLENET_STEP_LOG;

/**
 * The run folder as a sink: a new <save_ret>/exp<N> (or the run being resumed), progress bars on stderr.
 * A new folder starts with `firstFiles` (the --val-split listing).
 */
function runFolderSink(config: TrainConfig, resumeDir: string | undefined, log: (line: string) => void, firstFiles: Record<string, string>): RunSink {
  let runDir: string | null = resumeDir ?? null;
  return {
    async open() {
      if (!runDir) {
        runDir = createRunDir(config.save_ret);
        for (const [name, text] of Object.entries(firstFiles)) writeAtomic(join(runDir, name), text);
      }
      return runDir;
    },
    write(name, data) {
      const path = join(runDir!, name);
      mkdirSync(dirname(path), { recursive: true });
      writeAtomic(path, data);
    },
    log,
    progress: (label, total) => new ProgressBar({ total, label, unit: 'img' }),
    stepDone: STEP_LOG ? (epoch, step, loss) => appendFileSync(STEP_LOG, `${JSON.stringify({ epoch, step, loss })}\n`) : undefined,
  };
}

/** Runs (or, with resumeDir, continues) a training run; returns the run folder. */
export async function train(config: TrainConfig, resumeDir?: string, log: (line: string) => void = (l) => console.log(l)): Promise<string> {
  const { train: trainFolder, val: valFolder } = config.val_split
    ? splitFolder(imageFolder(config.data_train, '--data_train'), config.val_split, config.seed)
    : { train: imageFolder(config.data_train, '--data_train'), val: imageFolder(config.data_val, '--data_val') };
  checkClassCount(trainFolder, '--data_train');
  checkClasses({ name: '--data_train', classes: trainFolder.classes }, { name: '--data_val', classes: valFolder.classes });
  const backend = await initBackend(config.adapter ?? undefined);
  log(`adapter: ${describeBackend(backend)}`);
  const loader = new DataLoader({ imgSize: config.img_size, workers: config.workers, seed: config.seed });
  try {
    const resumePath = resumeDir ? join(resumeDir, RESUME_FILE) : null;
    return await runTraining({
      config,
      adapter: describeBackend(backend),
      data: {
        classes: trainFolder.classes,
        train: { name: '--data_train', root: trainFolder.root, samples: trainFolder.samples },
        val: { name: '--data_val', root: valFolder.root, samples: valFolder.samples },
      },
      fingerprint: { train: datasetFingerprint(trainFolder), val: datasetFingerprint(valFolder) },
      loader,
      sink: runFolderSink(config, resumeDir, log, config.val_split ? { 'split.csv': splitCsv(trainFolder, valFolder) } : {}),
      async initialWeights() {
        const source = config.weights ?? (config.pretrained ? await resolvePretrained(config.model) : null);
        return source ? { state: await readCheckpointFile(source), source } : null;
      },
      resume: resumePath ? { bytes: readFileSync(resumePath), source: resumePath } : undefined,
    });
  } finally {
    await loader.close();
  }
}

function describeBackend(backend: Backend): string {
  const a = backend.adapter;
  return a ? `${a.device || a.description} (${a.description}, ${a.backend})` : 'CPU reference';
}
