// `serve`: the page (dist/browser) on a local web server, with the weights, class names and image
// size of a training run (--run RUN_DIR) or of a checkpoint given directly (--weights FILE); with
// neither, the page opens on its Train view.
// The checkpoint is checked against the model here, so a mismatch is a start-up error, not a page
// error (a run's best.pth that fails falls back to its last.pth, with a warning); the files are read
// once, at start-up. Source maps are not served (they would ship the source).

import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Argv } from 'yargs';
import { CpuBackend } from '../backends/cpu.js';
import { setBackend } from '../autograd/default_backend.js';
import { readCheckpoint } from '../model/checkpoint/index.js';
import { readWeightsBytes } from '../model/weights_file.js';
import type { DatasetFingerprint } from '../data/folder.js';
import { isWidth, ShuffleNetV2, WIDTHS, type Width } from '../model/shufflenet.js';
import { checkFinite, guessWidth, loadStateDict } from '../model/state.js';
import { demoImage, type ValidationSource } from '../web/server/demo_image.js';
import { type Asset, createPageServer, listen } from '../web/server/http.js';
import { port as parsePort, positiveInteger } from './flags.js';
import { readRunFolder } from './model_source.js';
import { readClassIndices } from './predict.js';

export function serveOptions(y: Argv) {
  return y
    .option('run', {
      type: 'string',
      describe: "a training run folder (<save_ret>/exp<N>): its weights/best.pth (else last.pth), class_indices.json and train_info.json's model and img_size",
    })
    .option('weights', { type: 'string', describe: 'without --run: checkpoint (.pth or .safetensors)' })
    .option('model', {
      type: 'string',
      choices: Object.keys(WIDTHS),
      describe: 'without --run: ShuffleNet V2 width (default: the width the checkpoint was made for)',
    })
    .option('num-classes', { type: 'string', describe: "without --run: number of classes (default: the checkpoint's)" })
    .option('class-indices', { type: 'string', describe: "without --run: a run's class_indices.json, for class names" })
    .option('img-size', { type: 'string', describe: 'without --run: input size (default 224)' })
    .option('port', { type: 'string', default: '8000', describe: 'port to listen on (0: any free port)' })
    .option('host', {
      type: 'string',
      default: '127.0.0.1',
      describe: 'address to listen on; the default keeps the page on this machine (and only then is a validation image the demo image)',
    });
}

type ServeArgs = Awaited<ReturnType<ReturnType<typeof serveOptions>['parseAsync']>>;

interface Served {
  width: Width;
  numClasses: number;
  imgSize: number;
  classNames: string[];
  weights: Uint8Array;
  weightsPath: string;
  /** The weights' file, as the page names it. */
  weightsName: string;
  validation: ValidationSource | null;
}

/** What the command line or the run folder says; null: to be taken from the checkpoint. */
type Given = Omit<Served, 'width' | 'numClasses' | 'classNames' | 'weights' | 'weightsPath' | 'weightsName'> & {
  width: Width | null;
  classNames: string[] | null;
  /** The checkpoints to try, in order (a run's best.pth, then last.pth), with their names on the page. */
  candidates: { path: string; name: string; flag: string }[];
};

function fromRun(run: string): Given {
  const { width, imgSize, classNames, checkpoints, info } = readRunFolder(run);
  const dataVal = info['train parameters']?.data_val;
  const fingerprint = (info.dataset as { fingerprint?: { val?: DatasetFingerprint } } | undefined)?.fingerprint?.val ?? null;
  return {
    width,
    imgSize,
    classNames,
    candidates: checkpoints.map((path) => ({ path, name: `${basename(run)}/weights/${basename(path)}`, flag: '--run' })),
    validation: typeof dataVal === 'string' ? { dataVal, fingerprint } : null,
  };
}

/** The first candidate checkpoint that reads, holds finite values and fits the model (strictly, as the page loads it); a failed best.pth falls back to last.pth with a warning. */
async function firstUsable(
  given: Given,
  width: Width | undefined,
  numClasses: number | undefined,
): Promise<{ bytes: Uint8Array; path: string; name: string; width: Width; numClasses: number }> {
  for (const [i, c] of given.candidates.entries()) {
    try {
      const bytes = readWeightsBytes(c.path);
      const state = await readCheckpoint(bytes, c.path);
      checkFinite(state, c.path);
      const guessed = guessWidth(state);
      const w = given.width ?? width ?? (guessed && isWidth(guessed) ? guessed : 'x0_5');
      const k = numClasses ?? given.classNames?.length ?? state.get('fc.weight')?.shape[0] ?? 2;
      // The same strict load the page does, on the CPU: every mismatch is reported now, by name.
      setBackend(new CpuBackend());
      loadStateDict(new ShuffleNetV2(w, k), state, { source: c.path });
      return { bytes, path: c.path, name: c.name, width: w, numClasses: k };
    } catch (e) {
      const next = given.candidates[i + 1];
      if (!next) throw new Error(`${c.flag}: ${(e as Error).message}`);
      console.error(`warning: ${(e as Error).message}\nwarning: serving ${next.path} instead`);
    }
  }
  throw new Error('no checkpoint to serve');
}

/** What to serve; null without --run and --weights (the page then opens on its Train view). */
async function resolveServed(a: ServeArgs): Promise<Served | null> {
  const perCheckpoint = (['weights', 'model', 'num-classes', 'class-indices', 'img-size'] as const).filter((k) => a[k] !== undefined);
  if (a.run && perCheckpoint.length > 0)
    throw new Error(`--run takes the model, weights, classes and image size from the run folder: leave out ${perCheckpoint.map((k) => `--${k}`).join(', ')}`);
  if (!a.run && !a.weights) {
    if (perCheckpoint.length > 0)
      throw new Error(`${perCheckpoint.map((k) => `--${k}`).join(', ')} describe a checkpoint: name it with --weights FILE (or a run with --run RUN_DIR)`);
    return null;
  }
  const numClasses = a['num-classes'] !== undefined ? positiveInteger('num-classes')(a['num-classes']) : undefined;
  const given: Given = a.run
    ? fromRun(a.run)
    : {
        width: null,
        imgSize: a['img-size'] === undefined ? 224 : positiveInteger('img-size')(a['img-size']),
        classNames: a['class-indices'] ? readClassIndices(a['class-indices']) : null,
        candidates: [{ path: a.weights!, name: basename(a.weights!), flag: '--weights' }],
        validation: null,
      };
  const usable = await firstUsable(given, a.model as Width | undefined, numClasses);
  const classNames = given.classNames ?? Array.from({ length: usable.numClasses }, (_, i) => String(i));
  if (classNames.length !== usable.numClasses) throw new Error(`--class-indices names ${classNames.length} classes, --num-classes says ${usable.numClasses}`);
  return {
    ...given,
    width: usable.width,
    numClasses: usable.numClasses,
    classNames,
    weights: usable.bytes,
    weightsPath: usable.path,
    weightsName: usable.name,
  };
}

const PAGE_FILES: Record<string, [file: string, contentType: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
  '/page.js': ['page.js', 'text/javascript; charset=utf-8'],
  '/engine.js': ['engine.js', 'text/javascript; charset=utf-8'],
  '/train-worker.js': ['train-worker.js', 'text/javascript; charset=utf-8'],
};

function pageAssets(): [string, Asset][] {
  const dir = new URL('../browser/', import.meta.url);
  return Object.entries(PAGE_FILES).map(([path, [file, contentType]]) => {
    const location = new URL(file, dir);
    if (!existsSync(location)) throw new Error(`the page's file ${location.pathname} is missing: run 'npm run build'`);
    return [path, { contentType, body: readFileSync(location) }];
  });
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The URL to open for a bound address: an unspecified address (every interface) is opened as localhost. */
function pageUrl({ address, port }: AddressInfo): string {
  const host = address === '0.0.0.0' || address === '::' ? 'localhost' : address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}/`;
}

export async function serveCommand(a: ServeArgs): Promise<void> {
  const port = parsePort(a.port);
  const served = await resolveServed(a);
  // Beyond this machine, anyone who opens the page gets the demo image: never one of the dataset (patient images).
  const demo = isLoopback(a.host)
    ? demoImage(served?.validation ?? null)
    : demoImage(null, `--host ${a.host} serves beyond this machine, so no dataset image is`);
  const config = {
    model: served?.width ?? null,
    num_classes: served?.numClasses ?? null,
    class_names: served?.classNames ?? null,
    img_size: served?.imgSize ?? null,
    weights: served ? { url: '/weights', name: served.weightsName } : null,
    demo_image: { url: '/demo-image', name: demo.name },
  };
  const routes = new Map<string, Asset>([
    ...pageAssets(),
    ['/config.json', { contentType: 'application/json; charset=utf-8', body: new TextEncoder().encode(JSON.stringify(config)) }],
    ...(served ? [['/weights', { contentType: 'application/octet-stream', body: served.weights }] as [string, Asset]] : []),
    ['/demo-image', { contentType: demo.contentType, body: demo.bytes }],
  ]);
  const server = createPageServer(routes, isLoopback(a.host));
  const bound = await listen(server, port, a.host);
  if (served)
    console.log(
      `ShuffleNet V2 ${served.width}, ${served.numClasses} classes (${served.classNames.join(', ')}), ${served.imgSize}x${served.imgSize}, weights ${served.weightsName}`,
    );
  else console.log('no model given: the page opens on its Train view (train on a folder of images in the browser, or choose a weights file)');
  console.log(`demo image: ${demo.source}`);
  if (!isLoopback(bound.address))
    console.log(
      `warning: listening on ${bound.address} (--host ${a.host}): other machines on the network can open the page and download the weights; the demo image is a generated one, not a dataset image`,
    );
  console.log(`open ${pageUrl(bound)} in a browser with WebGPU (Ctrl+C stops the server)`);
  await new Promise<void>((resolve) => server.once('close', () => resolve()));
}
