// Which trained model a command runs: a training run folder (--run RUN_DIR: its weights/best.pth,
// else last.pth, class_indices.json, and train_info.json's model and img_size) or a checkpoint with
// its configuration on the command line (--weights FILE [--model] [--num-classes] [--class-indices]
// [--img-size]). Shared by predict, evaluate and export.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { isWidth, WIDTHS, type Width } from '../model/shufflenet.js';
import { positiveInteger, readJsonFile } from './flags.js';
import { readClassIndices } from './predict.js';

export interface ModelSource {
  width: Width;
  numClasses: number;
  imgSize: number;
  /** index -> class name. */
  classNames: string[];
  weights: string;
}

export function modelSourceOptions<T>(y: Argv<T>) {
  return y
    .option('run', {
      type: 'string',
      describe: 'a training run folder (<save_ret>/exp<N>): its weights (best.pth, else last.pth), class names, model and image size',
    })
    .option('weights', { type: 'string', describe: 'without --run: checkpoint (.pth or .safetensors)' })
    .option('model', { type: 'string', choices: Object.keys(WIDTHS), describe: 'without --run: ShuffleNet V2 width (default x0_5)' })
    .option('num-classes', { type: 'string', describe: "without --run: number of classes (default: --class-indices' count, else 2)" })
    .option('class-indices', { type: 'string', describe: "without --run: a run's class_indices.json, for class names" })
    .option('img-size', { type: 'string', describe: 'without --run: input size (default 224)' });
}

export interface ModelSourceArgs {
  run?: string;
  weights?: string;
  model?: string;
  'num-classes'?: string;
  'class-indices'?: string;
  'img-size'?: string;
}

/** What a run folder holds for the commands that use its model: width, image size, class names, its checkpoints (best first) and train_info.json. */
export interface RunFolder {
  width: Width;
  imgSize: number;
  classNames: string[];
  /** weights/best.pth and weights/last.pth, those that exist, best first. */
  checkpoints: string[];
  info: { 'train parameters'?: Record<string, unknown>; dataset?: Record<string, unknown> };
}

export function readRunFolder(run: string): RunFolder {
  if (!existsSync(run)) throw new Error(`--run: ${run} does not exist`);
  const checkpoints = ['best.pth', 'last.pth'].map((f) => join(run, 'weights', f)).filter((p) => existsSync(p));
  if (checkpoints.length === 0) throw new Error(`--run: ${run} has no weights/best.pth or weights/last.pth (is it a run folder made by train?)`);
  const infoPath = join(run, 'train_info.json');
  const info = readJsonFile(infoPath, '--run') as RunFolder['info'];
  const { model, img_size: imgSize } = info['train parameters'] ?? {};
  if (typeof model !== 'string' || !isWidth(model))
    throw new Error(`--run: ${infoPath} names no ShuffleNet V2 width in "train parameters".model (got ${JSON.stringify(model)})`);
  if (typeof imgSize !== 'number' || !Number.isInteger(imgSize) || imgSize < 1)
    throw new Error(`--run: ${infoPath} has no valid "train parameters".img_size (got ${JSON.stringify(imgSize)})`);
  const indices = join(run, 'class_indices.json');
  if (!existsSync(indices)) throw new Error(`--run: ${run} has no class_indices.json (is it a run folder made by train?)`);
  return { width: model, imgSize, classNames: readClassIndices(indices, '--run'), checkpoints, info };
}

export function fromRun(run: string): ModelSource {
  const { width, imgSize, classNames, checkpoints } = readRunFolder(run);
  return { width, numClasses: classNames.length, imgSize, classNames, weights: checkpoints[0] };
}

export function resolveModelSource(a: ModelSourceArgs): ModelSource {
  const perCheckpoint = (['weights', 'model', 'num-classes', 'class-indices', 'img-size'] as const).filter((k) => a[k] !== undefined);
  if (a.run !== undefined) {
    if (perCheckpoint.length > 0)
      throw new Error(`--run takes the model, weights, classes and image size from the run folder: leave out ${perCheckpoint.map((k) => `--${k}`).join(', ')}`);
    return fromRun(a.run);
  }
  if (a.weights === undefined) throw new Error('name a training run (--run RUN_DIR) or a checkpoint (--weights FILE)');
  const names = a['class-indices'] !== undefined ? readClassIndices(a['class-indices']) : null;
  const numClasses = a['num-classes'] !== undefined ? positiveInteger('num-classes')(a['num-classes']) : (names?.length ?? 2);
  if (names && names.length !== numClasses) throw new Error(`--class-indices names ${names.length} classes, --num-classes says ${numClasses}`);
  return {
    width: (a.model ?? 'x0_5') as Width,
    numClasses,
    imgSize: a['img-size'] !== undefined ? positiveInteger('img-size')(a['img-size']) : 224,
    classNames: names ?? Array.from({ length: numClasses }, (_, i) => String(i)),
    weights: a.weights,
  };
}
