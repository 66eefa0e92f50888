// Hostile but fair input (issue 13), case by case, through the command line as a user meets it: the
// exit status, the one-line message naming the file or flag (no stack trace), what is left on disk,
// and for bombs and hangs the time and memory they may take. The commands run on the CPU reference
// (--adapter cpu) with tiny generated images, except the device limits (llvmpipe: its 128 MiB storage
// binding) and the page, which runs in Chromium.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { decodeImage } from '../src/data/decode.js';
import { MAX_IMAGE_FILE_BYTES } from '../src/data/read_image.js';
import { imageFolder } from '../src/data/folder.js';
import { checkPixelCount, MAX_IMAGE_PIXELS } from '../src/data/image.js';
import { readCheckpoint, type StateDict, writePth } from '../src/model/checkpoint/index.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { writeAtomic } from '../src/train/files.js';
import { confusionMatrix, epochMetrics } from '../src/train/metrics.js';
import { renderConfusionMatrix } from '../src/train/plot/confusion.js';
import { deterministicState } from './helpers/deterministic.js';
import { launchChromium } from './helpers/chromium.js';
import { startServe } from './helpers/serve_process.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const scratch = () => mkdtempSync(join(tmpdir(), 'hostile-'));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI (through bash when `shell` sets limits first); never throws. */
function cli(args: string[], options: { shell?: string; timeoutMs?: number } = {}): Promise<Outcome> {
  const started = performance.now();
  const [file, argv] = options.shell ? ['bash', ['-c', `${options.shell}; exec node "$0" "$@"`, CLI, ...args]] : ['node', [CLI, ...args]];
  return new Promise((resolve) => {
    execFile(file, argv, { maxBuffer: 1 << 26, timeout: options.timeoutMs ?? 110_000, env: { ...process.env, DEBUG: '' } }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** One line of error, naming what it must, and no stack trace. */
function expectOneLineError(r: Outcome, ...mentions: string[]): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  expect(lines, r.stderr).toHaveLength(1);
  for (const m of mentions) expect(lines[0]).toContain(m);
  expect(r.stderr).not.toMatch(/\.(js|ts):\d+:\d+|^\s+at /m);
}

/** A small RGB PNG whose pixels depend on `seed`. */
function png(seed: number, size = 12): Buffer {
  const p = new PNG({ width: size, height: size });
  for (let i = 0; i < p.data.length; i++) p.data[i] = (i * 7 + seed * 53) & 255;
  return PNG.sync.write(p);
}

/** <root>/<split>/<class>/<n>.png for each class, `perClass` images each. */
function dataset(root: string, classes: string[], perClass = 2): { train: string; val: string } {
  let seed = 0;
  for (const split of ['train', 'val']) {
    for (const c of classes) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (let i = 0; i < perClass; i++) writeFileSync(join(root, split, c, `${i}.png`), png(seed++));
    }
  }
  return { train: join(root, 'train'), val: join(root, 'val') };
}

/** Flags of a small fast run on the CPU reference, with some replaced. */
const tiny = (replaced: Record<string, string> = {}): string[] =>
  Object.entries({
    '--adapter': 'cpu',
    '--pretrained': 'false',
    '--img-size': '32',
    '--batch-size': '4',
    '--epochs': '1',
    '--workers': '0',
    ...replaced,
  }).flat();
const TINY = tiny();
const data = (d: { train: string; val: string }) => ['--data_train', d.train, '--data_val', d.val];

/** A finished two-epoch run on a fresh two-class dataset. */
async function trainedRun(): Promise<{ dir: string; run: string; d: { train: string; val: string } }> {
  const dir = scratch();
  const d = dataset(dir, ['a', 'b']);
  const r = await cli(['train', ...tiny({ '--epochs': '2' }), ...data(d), '--save_ret', join(dir, 'runs')]);
  expect(r.code, r.stderr).toBe(0);
  return { dir, run: join(dir, 'runs', 'exp1'), d };
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** A PNG that claims width x height 1-bit grey pixels, with a small IDAT: what a decompression bomb looks like up front. */
function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', new Uint8Array(600)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** A baseline JPEG header (SOI, SOF0, SOS) that claims width x height. */
function bombJpeg(width: number, height: number): Buffer {
  const sof = [0xff, 0xc0, 0, 17, 8, height >> 8, height & 255, width >> 8, width & 255, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return Buffer.from([0xff, 0xd8, ...sof, 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0, 0, 0, 0]);
}

/** A 24-bit BMP header that claims width x height. */
function bombBmp(width: number, height: number): Buffer {
  const b = Buffer.alloc(54 + 64);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return b;
}

/** x0_5 weights for `classes` classes, deterministic, optionally changed tensor by tensor. */
function weightsFile(path: string, classes = 2, change?: (name: string, values: Float32Array) => void): string {
  setBackend(new CpuBackend());
  const state: StateDict = deterministicState(new ShuffleNetV2('x0_5', classes));
  if (change) for (const [name, t] of state) if (t.data instanceof Float32Array) change(name, t.data);
  writeFileSync(path, writePth(state));
  return path;
}

describe('1. many classes', () => {
  it('metrics and the confusion picture of 1000 classes take well under a second each, O(k^2), and agree with the one-vs-rest definition', () => {
    const k = 1000;
    const labels = Array.from({ length: 20_000 }, (_, i) => (i * 7919) % k);
    const predictions = labels.map((l, i) => (i % 3 === 0 ? (l + i) % k : l));
    const m = confusionMatrix(labels, predictions, k);
    const names = Array.from({ length: k }, (_, i) => `class ${i}`);
    let started = performance.now();
    const metrics = epochMetrics(m, names, 0.5);
    expect(performance.now() - started).toBeLessThan(1000);
    // One class by its definition: true positives, false negatives, false positives over the raw pairs.
    const c = 17;
    const tp = labels.filter((l, i) => l === c && predictions[i] === c).length;
    const fn = labels.filter((l, i) => l === c && predictions[i] !== c).length;
    const fp = labels.filter((l, i) => l !== c && predictions[i] === c).length;
    const tn = labels.length - tp - fn - fp;
    expect(metrics['class 17']).toEqual({
      Precision: Math.round((tp / (tp + fp)) * 1e4) / 1e4,
      Recall: Math.round((tp / (tp + fn)) * 1e4) / 1e4,
      Specificity: Math.round((tn / (tn + fp)) * 1e4) / 1e4,
      'F1 score': Math.round(((2 * tp) / (2 * tp + fp + fn)) * 1e4) / 1e4,
    });
    expect(metrics.accuracy).toBe(Math.round((labels.filter((l, i) => l === predictions[i]).length / labels.length) * 1e4) / 1e4);
    started = performance.now();
    const picture = PNG.sync.read(Buffer.from(renderConfusionMatrix(m, names, '1000 classes')));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(picture.width).toBeLessThan(2500);
    expect(picture.height).toBeLessThan(2500);
  });

  it('trains 400 classes to the end and saves the weights', async () => {
    const dir = scratch();
    const classes = Array.from({ length: 400 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    const d = dataset(dir, classes, 1);
    const r = await cli(['train', ...tiny({ '--batch-size': '100' }), ...data(d), '--save_ret', join(dir, 'runs')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('Maximum call stack');
    const run = join(dir, 'runs', 'exp1');
    expect(readdirSync(join(run, 'weights')).sort()).toEqual(['best.pth', 'last.pth', 'resume.safetensors']);
    expect(Object.keys(JSON.parse(readFileSync(join(run, 'class_indices.json'), 'utf8')))).toHaveLength(400);
    expect(existsSync(join(run, 'confusion_matrix_val.png'))).toBe(true);
  });
});

describe('2. diverging loss', () => {
  it('--lr 1e30 over several steps ends in the one-line message (the read-back that fails is handled), keeping the run folder without weights', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b'], 4);
    const r = await cli([
      'train',
      ...tiny({ '--workers': '1', '--batch-size': '1', '--img-size': '64' }),
      '--freeze_layers',
      'false',
      '--lr',
      '1e30',
      ...data(d),
      '--save_ret',
      join(dir, 'runs'),
    ]);
    expectOneLineError(r, 'the training loss became', 'at epoch 0, step', 'try a lower --lr', 'no epoch had completed');
    expect(r.stderr).not.toContain('TrainingStopped');
    expect(filesUnder(join(dir, 'runs'))).toEqual(['exp1/class_indices.json', 'exp1/train_info.json']);
  });

  it('a validation loss that is not finite stops the run the same way', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b'], 2);
    // One training step: its loss comes from the weights before the update, the validation from those after.
    const r = await cli(['train', ...TINY, '--freeze_layers', 'false', '--lr', '1e30', ...data(d), '--save_ret', join(dir, 'runs')]);
    expectOneLineError(r, 'the validation loss became', 'at epoch 0', 'try a lower --lr');
    expect(filesUnder(join(dir, 'runs', 'exp1', 'weights'))).toEqual([]);
  });

  it('all-NaN --weights are refused before training, naming the file; --weight-decay 1e400 names the flag', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b']);
    const weights = weightsFile(join(dir, 'nan.pth'), 2, (_, v) => v.fill(NaN));
    let r = await cli(['train', ...TINY, ...data(d), '--weights', weights, '--save_ret', join(dir, 'runs')]);
    expectOneLineError(r, weights, 'NaN or infinite values');
    expect(existsSync(join(dir, 'runs', 'exp1'))).toBe(false);
    r = await cli(['train', ...TINY, ...data(d), '--weight-decay', '1e400', '--save_ret', join(dir, 'runs')]);
    expectOneLineError(r, "--weight-decay must be a finite number of at least 0, not '1e400'");
  });
});

describe('3. optimizer flags', () => {
  it.each([
    [['--momentum', 'abc'], "--momentum must be a number from 0 up to (not including) 1, not 'abc'"],
    [['--momentum', '-5'], "--momentum must be a number from 0 up to (not including) 1, not '-5'"],
    [['--momentum', '5'], "--momentum must be a number from 0 up to (not including) 1, not '5'"],
    [['--momentum', ''], "--momentum must be a number from 0 up to (not including) 1, not ''"],
    [['--weight-decay', '-1'], "--weight-decay must be a finite number of at least 0, not '-1'"],
    [['--weight-decay', 'abc'], "--weight-decay must be a finite number of at least 0, not 'abc'"],
    [['--optim', 'Adam', '--momentum', '0.5'], '--momentum applies to --optim SGD only'],
    [['--workers', '100000'], '--workers must be a whole number from 0 to'],
    [['--seed', '-1'], '--seed must be a whole number from 0 to 4294967295'],
    [['--lr', '0.1', '--lr', '0.2'], '--lr is given 2 times (0.1, 0.2): give it once'],
  ])('%j is refused up front, naming the flag, with no run folder', async (flags, message) => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b']);
    const pairs = Array.from({ length: flags.length / 2 }, (_, i) => [flags[2 * i], flags[2 * i + 1]]);
    const ours = tiny(Object.fromEntries(pairs.filter(([f]) => TINY.includes(f))));
    const r = await cli(['train', ...ours, ...pairs.filter(([f]) => !TINY.includes(f)).flat(), ...data(d), '--save_ret', join(dir, 'runs')]);
    expectOneLineError(r, message);
    expect(r.stdout).not.toContain('adapter:');
    expect(existsSync(join(dir, 'runs'))).toBe(false);
  });
});

describe('4. nested class folders', () => {
  it("walks subfolders in torchvision's ImageFolder order", () => {
    const dir = scratch();
    for (const f of [
      'a/z.png',
      'a/sub/b.png',
      'a/sub/a.png',
      'a/sub/deeper/c.png',
      'a/sub2/d.png',
      'a/sub-x/e.png',
      'b/x/f.png',
      'b/g.png',
      'b/.hidden/h.png',
    ]) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), 'x');
    }
    // torchvision 0.14 make_dataset on this tree (by /usr/bin/python3) gives this order; '-' sorts before '/'.
    const expected = ['a/z.png', 'a/sub/a.png', 'a/sub/b.png', 'a/sub-x/e.png', 'a/sub/deeper/c.png', 'a/sub2/d.png', 'b/g.png', 'b/x/f.png'];
    const folder = imageFolder(dir, '--data_train');
    expect(folder.samples.map((s) => [s.file.slice(dir.length + 1), s.label])).toEqual(expected.map((f) => [f, f.startsWith('a') ? 0 : 1]));
  });

  it('trains on images in train/<class>/<subfolder>/ and counts them', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b']);
    mkdirSync(join(d.train, 'b', 'more', 'deeper'), { recursive: true });
    writeFileSync(join(d.train, 'b', 'more', 'x.png'), png(90));
    writeFileSync(join(d.train, 'b', 'more', 'deeper', 'y.png'), png(91));
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', join(dir, 'runs')]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(readFileSync(join(dir, 'runs', 'exp1', 'train_info.json'), 'utf8'));
    expect(info.dataset.train).toMatchObject({ total: 6, a: 2, b: 4 });
  });
});

describe('5. decompression bombs, FIFOs, devices', () => {
  it.each([
    ['PNG', bombPng(25_000, 25_000)],
    ['JPEG', bombJpeg(20_000, 20_000)],
    ['BMP', bombBmp(20_000, 20_000)],
  ])('a %s that claims 400+ million pixels is refused from its header, in milliseconds and without the memory', (format, bytes) => {
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    expect(() => decodeImage(bytes, `bomb.${format}`)).toThrow(
      new RegExp(`bomb\\.${format}: cannot decode ${format}: ${format} of \\d+x\\d+ = \\d+ pixels is above the limit of ${MAX_IMAGE_PIXELS} pixels`),
    );
    expect(performance.now() - started).toBeLessThan(200);
    expect(process.memoryUsage().rss - rss).toBeLessThan(50 << 20);
  });

  it("refuses above PIL's MAX_IMAGE_PIXELS, not at it", () => {
    expect(() => checkPixelCount(9459, 9459, 'PNG')).not.toThrow();
    expect(() => checkPixelCount(MAX_IMAGE_PIXELS, 1, 'PNG')).not.toThrow();
    expect(() => checkPixelCount(MAX_IMAGE_PIXELS + 1, 1, 'PNG')).toThrow(/above the limit/);
  });

  it('train names and leaves out a PNG bomb, a FIFO, a link to /dev/zero, a folder named .png and an oversized file, without hanging', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b']);
    const bad = join(d.train, 'a');
    writeFileSync(join(bad, 'bomb.png'), bombPng(25_000, 25_000));
    execFileSync('mkfifo', [join(bad, 'fifo.png')]);
    symlinkSync('/dev/zero', join(bad, 'zero.png'));
    mkdirSync(join(bad, 'folder.png', 'inner'), { recursive: true });
    writeFileSync(join(bad, 'huge.png'), '');
    truncateSync(join(bad, 'huge.png'), MAX_IMAGE_FILE_BYTES + 1);
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', join(dir, 'runs')], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(60_000);
    expect(r.stdout).toContain(`${join(bad, 'bomb.png')}: cannot decode PNG: PNG of 25000x25000 = 625000000 pixels is above the limit`);
    expect(r.stdout).toContain(`${join(bad, 'fifo.png')}: a named pipe (FIFO), not a regular file`);
    expect(r.stdout).toContain(`${join(bad, 'zero.png')}: a device, not a regular file`);
    expect(r.stdout).toContain(
      `${join(bad, 'huge.png')}: ${MAX_IMAGE_FILE_BYTES + 1} bytes is more than the ${MAX_IMAGE_FILE_BYTES} bytes an image file may have`,
    );
    expect(r.stdout).toContain('left out 4 unreadable images');
    const info = JSON.parse(readFileSync(join(dir, 'runs', 'exp1', 'train_info.json'), 'utf8'));
    expect(info.dataset['skipped files'].map((s: { file: string }) => s.file).sort()).toEqual(
      ['bomb.png', 'fifo.png', 'huge.png', 'zero.png'].map((f) => join(bad, f)),
    );
  });
});

describe('6. too large for the device', () => {
  // On llvmpipe a storage binding holds 128 MiB: conv1's output at --img-size 2048 is 96 MiB per image.
  it.each([['2048'], ['5000']])('train --img-size %s fails before any epoch with one line naming --img-size, and leaves no run folder', async (size) => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b'], 2);
    const r = await cli([
      'train',
      ...tiny({ '--adapter': 'llvmpipe', '--img-size': size }),
      '--freeze_layers',
      'false',
      ...data(d),
      '--save_ret',
      join(dir, 'runs'),
    ]);
    expectOneLineError(r, `at --img-size ${size} does not fit this adapter`, '--img-size');
    expect(r.stdout).not.toMatch(/epoch 0/);
    expect(existsSync(join(dir, 'runs'))).toBe(false);
  });

  it('a batch too large for the device names --batch-size and the largest that fits, before any epoch', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b'], 2);
    const r = await cli([
      'train',
      ...tiny({ '--adapter': 'llvmpipe', '--img-size': '224', '--batch-size': '4096' }),
      '--freeze_layers',
      'false',
      ...data(d),
      '--save_ret',
      join(dir, 'runs'),
    ]);
    expectOneLineError(r, 'a batch of 4096 images at --img-size 224 does not fit this adapter', 'use --batch-size');
    expect(existsSync(join(dir, 'runs'))).toBe(false);
  });

  it('predict at 5000 px names --img-size instead of failing inside Dawn', async () => {
    const dir = scratch();
    const weights = weightsFile(join(dir, 'w.pth'));
    writeFileSync(join(dir, 'x.png'), png(1));
    const r = await cli(['predict', '--adapter', 'llvmpipe', '--weights', weights, '--img-size', '5000', join(dir, 'x.png')]);
    expectOneLineError(r, '--img-size 5000', 'does not fit this adapter');
  });
});

describe('7. predict with non-finite outputs', () => {
  it('refuses NaN weights up front, naming the file', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'x.png'), png(1));
    const weights = weightsFile(join(dir, 'nan.pth'), 2, (name, v) => name === 'fc.weight' && v.fill(NaN));
    const r = await cli(['predict', '--adapter', 'cpu', '--weights', weights, join(dir, 'x.png')]);
    expectOneLineError(r, `${weights}: 1 tensor holds NaN or infinite values: fc.weight (2048 of 2048)`);
    expect(r.stdout).toBe('');
  });

  it('reports an image whose logits overflow instead of printing "undefined (NaN%)", with exit status 1', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'x.png'), png(1));
    const weights = weightsFile(join(dir, 'huge.pth'), 2, (name, v) => name === 'fc.weight' && v.forEach((_, i) => (v[i] = i % 2 ? 3e38 : -3e38)));
    const r = await cli(['predict', '--adapter', 'cpu', '--weights', weights, join(dir, 'x.png')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`skipped ${join(dir, 'x.png')}: the network's outputs for it are not finite`);
    expect(r.stdout).not.toMatch(/undefined|NaN/);
  });
});

describe('8. --resume', () => {
  let run: string;
  let d: { train: string; val: string };

  beforeAll(async () => {
    ({ run, d } = await trainedRun());
  });

  const onDisk = () => Object.fromEntries(filesUnder(run).map((f) => [f, readFileSync(join(run, f), 'utf8')]));

  it.each([
    [['--epochs', '8', '--data_train', '/nonexistent'], '--data_train "/nonexistent" (the run has'],
    [['--lr', '0.5'], '--lr 0.5 (the run has 0.01) cannot change'],
    [['--momentum', 'abc'], "--momentum must be a number from 0 up to (not including) 1, not 'abc'"],
    [['--epochs', '1'], '--epochs 1: '],
  ])('%j is refused, naming the flag, and the run folder is left as it was', async (flags, message) => {
    const before = onDisk();
    const r = await cli(['train', '--resume', run, '--workers', '0', '--adapter', 'cpu', ...flags]);
    expectOneLineError(r, message);
    expect(onDisk()).toEqual(before);
  });

  it('names an edited train_info.json whose parameters no run can have', async () => {
    const edited = join(dirname(run), 'edited');
    mkdirSync(join(edited, 'weights'), { recursive: true });
    for (const f of filesUnder(run)) writeFileSync(join(edited, f), readFileSync(join(run, f)));
    const info = JSON.parse(readFileSync(join(edited, 'train_info.json'), 'utf8'));
    for (const [key, value, message] of [
      ['lr', 'abc', "--lr must be a positive number, not 'abc'"],
      ['optim', 'Lion', "--optim must be one of SGD, Adam, AdamW, not 'Lion'"],
    ]) {
      writeFileSync(join(edited, 'train_info.json'), JSON.stringify({ ...info, 'train parameters': { ...info['train parameters'], [key]: value } }));
      const r = await cli(['train', '--resume', edited, '--workers', '0', '--adapter', 'cpu', '--epochs', '3']);
      expectOneLineError(r, `--resume: ${join(edited, 'train_info.json')} has "train parameters" no run can have: ${message}`);
    }
  });

  it('says a completed run needs a larger --epochs to continue', async () => {
    const r = await cli(['train', '--resume', run, '--workers', '0', '--adapter', 'cpu']);
    expectOneLineError(r, `--resume: ${run} has completed its 2 epochs; to train it longer, give --epochs with more than 2`);
  });

  it('takes flags that repeat the saved values, and a larger --epochs, which it records', async () => {
    const r = await cli(['train', '--resume', run, '--workers', '0', '--adapter', 'cpu', '--lr', '0.01', '--img-size', '32', '--epochs', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`continues to 3 epochs (was 2)`);
    expect(r.stdout).toContain(`resuming ${run} after epoch 1`);
    expect(Object.keys(JSON.parse(readFileSync(join(run, 'train_log.json'), 'utf8')))).toEqual(['epoch:0', 'epoch:1', 'epoch:2']);
    expect(JSON.parse(readFileSync(join(run, 'train_info.json'), 'utf8'))['train parameters'].epochs).toBe(3);
  });

  it('refuses data changed since the run started, naming the folder, before reading any image', async () => {
    const before = onDisk();
    writeFileSync(join(d.train, 'b', 'new.png'), png(77));
    let r = await cli(['train', '--resume', run, '--workers', '0', '--adapter', 'cpu', '--epochs', '4']);
    expectOneLineError(r, `--data_train ${d.train} has changed since the run started (4 files then, 5 now)`);
    expect(r.stdout).not.toContain('reading train images');
    rmSync(join(d.train, 'b', 'new.png'));
    writeFileSync(join(d.val, 'a', '0.png'), png(78, 13));
    r = await cli(['train', '--resume', run, '--workers', '0', '--adapter', 'cpu', '--epochs', '4']);
    expectOneLineError(
      r,
      `--data_val ${d.val} has changed since the run started (still 4 files, but some were renamed, moved between classes or changed size)`,
    );
    expect(onDisk()).toEqual(before);
  });
});

describe('9. classes without usable images', () => {
  it('refuses a class whose every training image is unreadable, naming it', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b']);
    for (const f of readdirSync(join(d.train, 'b'))) writeFileSync(join(d.train, 'b', f), 'not an image');
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', join(dir, 'runs')]);
    expectOneLineError(r, `--data_train: class 'b' has no readable image in ${d.train}`);
    expect(filesUnder(join(dir, 'runs'))).toEqual([]);
  });

  it('warns when a validation class has no readable image', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b']);
    for (const f of readdirSync(join(d.val, 'b'))) writeFileSync(join(d.val, 'b', f), 'not an image');
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', join(dir, 'runs')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`warning: --data_val: class 'b' has no readable image in ${d.val}`);
  });

  it('refuses a one-class dataset before any work', async () => {
    const dir = scratch();
    const d = dataset(dir, ['only']);
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', join(dir, 'runs')]);
    expectOneLineError(r, `--data_train: ${d.train} has one class folder (only); a classifier needs at least two classes`);
    expect(r.stdout).not.toContain('adapter:');
    expect(existsSync(join(dir, 'runs'))).toBe(false);
  });
});

describe('10. a write that fails (full disk) and interrupted writes', () => {
  it('names the file it could not write and leaves no temporary file', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b']);
    // 1 MiB per file (ulimit -f, SIGXFSZ ignored): the JSON files fit, the 5 MB checkpoints do not (EFBIG, as ENOSPC takes the same path).
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', join(dir, 'runs')], { shell: "trap '' XFSZ; ulimit -f 1024" });
    const run = join(dir, 'runs', 'exp1');
    expectOneLineError(r, `cannot write ${join(run, 'weights', 'last.pth')}: the file is larger than this process may write (ulimit -f) (EFBIG)`);
    expect(filesUnder(run).filter((f) => f.includes('.partial-'))).toEqual([]);
  });

  it('ENOSPC: the message names the file, the previous version is kept, the temporary file is removed', () => {
    const dir = scratch();
    const target = join(dir, 'train_log.json');
    writeFileSync(target, 'previous');
    // The temporary file as a link to /dev/full: every write to it fails with ENOSPC, as on a full disk.
    symlinkSync('/dev/full', `${target}.partial-${process.pid}`);
    expect(() => writeAtomic(target, 'x'.repeat(1 << 16))).toThrow(
      `cannot write ${target}: no space left on the device: free some space (ENOSPC); its previous version, if any, is kept`,
    );
    expect(readFileSync(target, 'utf8')).toBe('previous');
    expect(readdirSync(dir)).toEqual(['train_log.json']);
  });

  it('--resume removes the temporary files that a killed run left, and says so', async () => {
    const { run } = await trainedRun();
    // A process id that no process has: Linux's pid_max is at most 4194304.
    const stale = join(run, 'weights', 'last.pth.partial-4999999');
    writeFileSync(stale, Buffer.alloc(1 << 20));
    writeFileSync(join(run, 'train_log.json.partial-4999998'), '{');
    const r = await cli(['train', '--resume', run, '--workers', '0', '--adapter', 'cpu', '--epochs', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`removed ${stale}, left by an interrupted write`);
    expect(filesUnder(run).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});

describe('11. messages that name the file or flag', () => {
  let dir: string;
  let weights: string;
  beforeAll(() => {
    dir = scratch();
    weights = weightsFile(join(dir, 'w.pth'));
  });

  it('predict: a folder named x.png and a FIFO are named, the other images still classified', async () => {
    mkdirSync(join(dir, 'x.png'));
    execFileSync('mkfifo', [join(dir, 'pipe.png')]);
    writeFileSync(join(dir, 'good.png'), png(3));
    const r = await cli(['predict', '--adapter', 'cpu', '--weights', weights, join(dir, 'x.png'), join(dir, 'pipe.png'), join(dir, 'good.png')], {
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`skipped ${join(dir, 'x.png')}: ${join(dir, 'x.png')}: a folder, not an image file`);
    expect(r.stderr).toContain(`skipped ${join(dir, 'pipe.png')}: ${join(dir, 'pipe.png')}: a named pipe (FIFO)`);
    expect(r.stdout).toMatch(new RegExp(`^${join(dir, 'good.png')}: [01] \\(\\d+\\.\\d%\\)$`, 'm'));
  });

  it.each([
    [['serve', '--weights', 'W', '--port', 'abc'], "--port must be a whole number from 0 to 65535, not 'abc'"],
    [['serve', '--weights', 'W', '--port', '70000'], "--port must be a whole number from 0 to 65535, not '70000'"],
    [['serve', '--weights', 'W', '--num-classes', 'abc', '--port', '0'], "--num-classes must be a whole number of at least 1, not 'abc'"],
    [['serve', '--weights', 'W', '--img-size', 'abc', '--port', '0'], "--img-size must be a whole number of at least 1, not 'abc'"],
    [['info', '--num-classes', 'abc'], "--num-classes must be a whole number of at least 1, not 'abc'"],
    [['predict', '--weights', 'W', '--num-classes', 'abc', 'x.png'], "--num-classes must be a whole number of at least 1, not 'abc'"],
  ])('%j', async (args, message) => {
    const r = await cli(args.map((a) => (a === 'W' ? weights : a)));
    expectOneLineError(r, message);
  });

  it('a non-JSON or malformed --class-indices is named (predict and serve)', async () => {
    const bad = join(dir, 'classes.json');
    writeFileSync(bad, 'benign,malignant\n');
    writeFileSync(join(dir, 'y.png'), png(4));
    let r = await cli(['predict', '--adapter', 'cpu', '--weights', weights, '--class-indices', bad, join(dir, 'y.png')]);
    expectOneLineError(r, `--class-indices: ${bad} is not valid JSON`);
    r = await cli(['serve', '--weights', weights, '--class-indices', bad, '--port', '0']);
    expectOneLineError(r, `--class-indices: ${bad} is not valid JSON`);
    writeFileSync(bad, '["benign", "malignant"]');
    r = await cli(['predict', '--adapter', 'cpu', '--weights', weights, '--class-indices', bad, join(dir, 'y.png')]);
    expectOneLineError(r, `--class-indices: ${bad} is not a class index file`);
  });

  it('a non-JSON train_info.json is named by serve --run and train --resume', async () => {
    const run = join(dir, 'run');
    mkdirSync(join(run, 'weights'), { recursive: true });
    writeFileSync(join(run, 'weights', 'best.pth'), readFileSync(weights));
    writeFileSync(join(run, 'weights', 'resume.safetensors'), 'x');
    writeFileSync(join(run, 'class_indices.json'), '{"0": "a", "1": "b"}');
    writeFileSync(join(run, 'train_info.json'), '{"train parameters": ');
    let r = await cli(['serve', '--run', run, '--port', '0']);
    expectOneLineError(r, `--run: ${join(run, 'train_info.json')} is not valid JSON`);
    r = await cli(['train', '--resume', run]);
    expectOneLineError(r, `--resume: ${join(run, 'train_info.json')} is not valid JSON`);
  });

  it('--save_ret that cannot be created is named before any image is read', async () => {
    const d = dataset(join(dir, 'data'), ['a', 'b']);
    writeFileSync(join(dir, 'a-file'), 'x');
    const target = join(dir, 'a-file', 'runs');
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', target]);
    expectOneLineError(r, `--save_ret: ${join(dir, 'a-file')} is a file, not a folder`);
    expect(r.stdout).not.toContain('reading train images');
  });

  it('a FIFO given as --weights or --class-indices is refused at once, not waited on (predict, serve)', async () => {
    const fifo = join(dir, 'weights-fifo.pth');
    execFileSync('mkfifo', [fifo]);
    writeFileSync(join(dir, 'z.png'), png(6));
    let r = await cli(['predict', '--adapter', 'cpu', '--weights', fifo, join(dir, 'z.png')], { timeoutMs: 30_000 });
    expectOneLineError(r, `cannot read the weights file ${fifo}: a named pipe (FIFO), not a regular file`);
    r = await cli(['serve', '--weights', fifo, '--port', '0'], { timeoutMs: 30_000 });
    expectOneLineError(r, `--weights: cannot read the weights file ${fifo}: a named pipe (FIFO)`);
    r = await cli(['predict', '--adapter', 'cpu', '--weights', weights, '--class-indices', fifo, join(dir, 'z.png')], { timeoutMs: 30_000 });
    expectOneLineError(r, `--class-indices: cannot read ${fifo}: a named pipe (FIFO)`);
    r = await cli(['train', ...TINY, '--weights', fifo], { timeoutMs: 30_000 });
    expectOneLineError(r, `--weights: ${fifo} is not a regular file`);
  });

  it('--save_ret that is a dangling symbolic link is named before any image is read', async () => {
    const d = dataset(join(dir, 'data3'), ['a', 'b']);
    symlinkSync(join(dir, 'gone'), join(dir, 'runs-link'));
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', join(dir, 'runs-link')]);
    expectOneLineError(r, `--save_ret: ${join(dir, 'runs-link')} is a symbolic link to nothing`);
    expect(r.stdout).not.toContain('reading train images');
  });

  it('a missing --weights file is named before any image is read', async () => {
    const d = dataset(join(dir, 'data2'), ['a', 'b']);
    const r = await cli(['train', ...TINY, ...data(d), '--weights', join(dir, 'none.pth'), '--save_ret', join(dir, 'runs2')]);
    expectOneLineError(r, `--weights: ${join(dir, 'none.pth')} does not exist`);
    expect(existsSync(join(dir, 'runs2'))).toBe(false);
  });
});

describe('12. symbolic links as class folders', () => {
  it('a dangling and a looping link at the class level are ignored (as torchvision does), a loop inside a class is walked once', async () => {
    const dir = scratch();
    const d = dataset(dir, ['a', 'b']);
    for (const split of [d.train, d.val]) {
      symlinkSync(join(dir, 'nowhere'), join(split, 'dangling'));
      symlinkSync(join(split, 'loop'), join(split, 'loop'));
    }
    symlinkSync('..', join(d.train, 'a', 'up'));
    const r = await cli(['train', ...TINY, ...data(d), '--save_ret', join(dir, 'runs')]);
    expect(r.code, r.stderr).toBe(0);
    const run = join(dir, 'runs', 'exp1');
    expect(JSON.parse(readFileSync(join(run, 'class_indices.json'), 'utf8'))).toEqual({ 0: 'a', 1: 'b' });
    // a/up -> train: a's walk reaches b's images through it once (as os.walk would, without looping).
    expect(JSON.parse(readFileSync(join(run, 'train_info.json'), 'utf8')).dataset.train).toMatchObject({ a: 4, b: 2 });
  });
});

describe('13-15. serve and the page', () => {
  let dir: string;
  let run: string;
  let d: { train: string; val: string };

  beforeAll(async () => {
    ({ dir, run, d } = await trainedRun());
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const demoOf = async (args: string[]) => {
    const server = await startServe(args);
    try {
      const config = await (await fetch(new URL('/config.json', server.url))).json();
      const image = Buffer.from(await (await fetch(new URL('/demo-image', server.url))).arrayBuffer());
      const maps = await Promise.all(['/page.js.map', '/engine.js.map'].map(async (p) => (await fetch(new URL(p, server.url))).status));
      return { name: config.demo_image.name as string, weights: config.weights.name as string, image, maps, output: server.output() };
    } finally {
      server.stop();
    }
  };

  it.each([
    ['while the page loads its weights', '**/weights'],
    ['while the demo image is on its way', '**/demo-image'],
  ])('13. an image chosen %s is the one classified, and stays', async (_, held) => {
    const server = await startServe(['--run', run, '--port', '0']);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      let release = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      let asked = false;
      await page.route(held, async (route) => {
        asked = true;
        await released;
        await route.continue();
      });
      await page.goto(server.url.href);
      await expect.poll(() => asked, { timeout: 120_000 }).toBe(true);
      writeFileSync(join(dir, 'mine.png'), png(5, 40));
      await page.setInputFiles('#file', join(dir, 'mine.png'));
      release();
      await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=prediction]')?.dataset.file === 'mine.png', undefined, {
        timeout: 120_000,
      });
      // Time enough for the demo image to arrive and be classified, were it still wanted (about 1 s here).
      await page.waitForTimeout(4000);
      expect(await page.getAttribute('[data-testid=prediction]', 'data-file')).toBe('mine.png');
      expect(await page.textContent('#status-text')).toBe('Ready');
    } finally {
      await browser.close();
      server.stop();
    }
  });

  it('14. the demo image is the first validation image on loopback only; never a dataset image on another host, nor from a changed data_val; no source maps', async () => {
    const first = readFileSync(join(d.val, 'a', '0.png'));
    const local = await demoOf(['--run', run, '--port', '0']);
    expect(local.name).toBe('0.png');
    expect(local.image.equals(first)).toBe(true);
    expect(local.maps).toEqual([404, 404]);

    const open = await demoOf(['--run', run, '--port', '0', '--host', '0.0.0.0']);
    expect(open.name).toBe('generated-demo.png');
    expect(open.image.equals(first)).toBe(false);
    expect(open.output).toContain('the demo image is a generated one, not a dataset image');

    // An edited run folder: data_val pointing at an unrelated folder of private images.
    const edited = join(dir, 'edited');
    mkdirSync(join(edited, 'weights'), { recursive: true });
    for (const f of ['class_indices.json', 'weights/best.pth', 'weights/last.pth']) writeFileSync(join(edited, f), readFileSync(join(run, f)));
    const info = JSON.parse(readFileSync(join(run, 'train_info.json'), 'utf8'));
    const privateDir = join(dir, 'private');
    mkdirSync(join(privateDir, 'a'), { recursive: true });
    mkdirSync(join(privateDir, 'b'), { recursive: true });
    writeFileSync(join(privateDir, 'a', 'secret.png'), png(99));
    writeFileSync(join(privateDir, 'b', 'other.png'), png(98));
    info['train parameters'].data_val = privateDir;
    writeFileSync(join(edited, 'train_info.json'), JSON.stringify(info));
    const forged = await demoOf(['--run', edited, '--port', '0']);
    expect(forged.name).toBe('generated-demo.png');
    expect(forged.output).toContain(`no longer holds the validation data the run saw`);
  });

  it('15. a truncated best.pth falls back to last.pth with a warning', async () => {
    const broken = join(dir, 'broken');
    mkdirSync(join(broken, 'weights'), { recursive: true });
    for (const f of ['class_indices.json', 'train_info.json', 'weights/last.pth']) writeFileSync(join(broken, f), readFileSync(join(run, f)));
    const best = readFileSync(join(run, 'weights', 'best.pth'));
    writeFileSync(join(broken, 'weights', 'best.pth'), best.subarray(0, best.length >> 1));
    const served = await demoOf(['--run', broken, '--port', '0']);
    expect(served.weights).toBe('broken/weights/last.pth');
    expect(served.output).toContain(`warning: ${join(broken, 'weights', 'best.pth')}`);
    expect(served.output).toContain(`warning: serving ${join(broken, 'weights', 'last.pth')} instead`);
    // Both unusable: the error names the last one tried.
    writeFileSync(join(broken, 'weights', 'last.pth'), 'not a checkpoint');
    const r = await cli(['serve', '--run', broken, '--port', '0']);
    expectOneLineError(r, join(broken, 'weights', 'last.pth'));
  });
});

describe('weights checked in every command that reads them', () => {
  it('serve refuses NaN weights, naming the file', async () => {
    const dir = scratch();
    const weights = weightsFile(join(dir, 'nan.pth'), 2, (name, v) => name === 'conv1.0.weight' && (v[0] = Infinity));
    const r = await cli(['serve', '--weights', weights, '--port', '0']);
    expectOneLineError(r, `${weights}: 1 tensor holds NaN or infinite values: conv1.0.weight (1 of 648)`);
    expect((await readCheckpoint(readFileSync(weights), weights)).size).toBeGreaterThan(0);
  });
});
