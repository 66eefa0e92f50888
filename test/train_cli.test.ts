// `train` end to end, as a user runs it: parity with a PyTorch run of the seed's loop, every output
// of a run well-formed, resume after a kill equal to an uninterrupted run, clear errors on bad input.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/autograd/cpu_backend.js';
import { setBackend } from '../src/autograd/engine.js';
import { readCheckpoint, writePth } from '../src/model/checkpoint/index.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { loadStateDict } from '../src/model/state.js';
import { deterministicState } from './helpers/deterministic.js';
import { targetEnv, TEST_TARGETS } from './gpu.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const DATASETS = new URL('../../shared/datasets/', import.meta.url).pathname;
const UDTN = join(DATASETS, 'udtn-sample');
const scratch = () => mkdtempSync(join(tmpdir(), 'train-'));

async function train(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return trainIn(process.env, args);
}

/** `train` with the environment `env` (an adapter and device profile: targetEnv). */
async function trainIn(env: NodeJS.ProcessEnv, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [CLI, 'train', ...args], { maxBuffer: 1 << 26, env });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

const SMALL = ['--model', 'x0_5', '--img-size', '64', '--pretrained', 'false', '--workers', '1'];
const udtn = ['--data_train', join(UDTN, 'train'), '--data_val', join(UDTN, 'val')];

/** An ImageFolder of symbolic links to the listed dataset files (paths relative to `root`). */
function linkSubset(root: string, files: string[], into: string): void {
  for (const f of files) {
    const target = join(into, f.split('/').slice(1).join('/'));
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(root, f), target);
  }
}

describe('train: parity with PyTorch', () => {
  for (const target of TEST_TARGETS) it(`${target.label}: per-epoch training loss and validation accuracy and loss match the seed loop in PyTorch within 1e-3`, async () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/train/parity.json', import.meta.url), 'utf8'));
    const dir = scratch();
    linkSubset(join(DATASETS, 'ddti'), fixture.train.map(([f]: [string]) => f), join(dir, 'train'));
    linkSubset(join(DATASETS, 'ddti'), fixture.val.map(([f]: [string]) => f), join(dir, 'val'));
    setBackend(new CpuBackend());
    const model = new ShuffleNetV2('x0_5', 2);
    writeFileSync(join(dir, 'init.pth'), writePth(deterministicState(model)));
    const { code, stderr } = await trainIn(targetEnv(target), [...SMALL, '--data_train', join(dir, 'train'), '--data_val', join(dir, 'val'), '--weights', join(dir, 'init.pth'),
      '--freeze_layers', 'false', '--augment', 'false', '--shuffle', 'false', '--optim', 'SGD', '--lr', '0.001', '--epochs', '2', '--batch-size', '8', '--save_ret', join(dir, 'runs')]);
    expect(code, stderr).toBe(0);
    const log = JSON.parse(readFileSync(join(dir, 'runs', 'exp1', 'train_log.json'), 'utf8'));
    fixture.epochs.forEach((want: { train_loss: number; val_accuracy: number; val_loss: number }, epoch: number) => {
      const got = log[`epoch:${epoch}`];
      expect(Math.abs(got['train info'].loss - want.train_loss) / want.train_loss, `epoch ${epoch} train loss`).toBeLessThan(1e-3);
      expect(Math.abs(got['valid info'].loss - want.val_loss) / want.val_loss, `epoch ${epoch} val loss`).toBeLessThan(1e-3);
      expect(got['valid info'].accuracy).toBeCloseTo(want.val_accuracy, 4);
    });
  }, 300_000); // SwiftShader in the gpu profile (workgroup-memory tiles) takes about two minutes
});

describe('train: a run on udtn-sample', () => {
  it('writes every output, well-formed', async () => {
    const dir = scratch();
    const { code, stdout, stderr } = await train(...SMALL, ...udtn, '--epochs', '2', '--save_ret', dir);
    expect(code, stderr).toBe(0);
    const run = join(dir, 'exp1');
    expect(stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^best epoch [01] \\(val accuracy [0-9.]+\\); results in ${run}$`));
    expect(JSON.parse(readFileSync(join(run, 'class_indices.json'), 'utf8'))).toEqual({ 0: '0', 1: '1' });
    const info = JSON.parse(readFileSync(join(run, 'train_info.json'), 'utf8'));
    expect(info['train parameters']).toMatchObject({ model: 'x0_5', batch_size: 8, epochs: 2, optim: 'SGD', lr: 0.01, lrf: 0.001, img_size: 64 });
    expect(info.dataset.train).toEqual({ total: 14, 0: 7, 1: 7 });
    expect(info.model).toMatchObject({ 'total parameters': 343842, 'train parameters': 2050 });
    expect(info.model.flops).toBeGreaterThan(0);
    const log = JSON.parse(readFileSync(join(run, 'train_log.json'), 'utf8'));
    expect(Object.keys(log)).toEqual(['epoch:0', 'epoch:1']);
    for (const part of ['train info', 'valid info']) {
      const m = log['epoch:1'][part];
      for (const key of ['accuracy', 'loss', 'balanced accuracy', 'mean precision', 'mean recall', 'mean specificity', 'mean f1 score']) expect(Number.isFinite(m[key]), key).toBe(true);
      for (const cls of ['0', '1']) expect(Object.keys(m[cls])).toEqual(['Precision', 'Recall', 'Specificity', 'F1 score']);
    }
    for (const png of ['confusion_matrix_train.png', 'confusion_matrix_val.png', 'curves.png']) {
      const image = PNG.sync.read(readFileSync(join(run, png)));
      expect(image.width * image.height, png).toBeGreaterThan(10_000);
    }
    const csv = readFileSync(join(run, 'val_predictions.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('file,label,prediction,prob_0,prob_1');
    expect(csv).toHaveLength(7);
    for (const line of csv.slice(1)) {
      const [, , , p0, p1] = line.split(',');
      expect(Number(p0) + Number(p1)).toBeCloseTo(1, 5);
    }
    setBackend(new CpuBackend());
    for (const w of ['best.pth', 'last.pth']) loadStateDict(new ShuffleNetV2('x0_5', 2), await readCheckpoint(readFileSync(join(run, 'weights', w)), w));
    expect(readdirSync(join(run, 'weights')).sort()).toEqual(['best.pth', 'last.pth', 'resume.safetensors']);
    // A second run never reuses the folder.
    expect((await train(...SMALL, ...udtn, '--epochs', '1', '--save_ret', dir)).code).toBe(0);
    expect(existsSync(join(dir, 'exp2', 'train_log.json'))).toBe(true);
  });

  it('resumed after a kill, gives what an uninterrupted run gives', async () => {
    const dir = scratch();
    const args = [...SMALL, ...udtn, '--epochs', '3', '--freeze_layers', 'false', '--optim', 'AdamW', '--lr', '0.001', '--seed', '5'];
    expect((await train(...args, '--save_ret', join(dir, 'whole'))).code).toBe(0);
    // Kill the second run as soon as its first epoch is on disk.
    const killed: ChildProcess = spawn('node', [CLI, 'train', ...args, '--save_ret', join(dir, 'killed')], { stdio: 'ignore' });
    const log = join(dir, 'killed', 'exp1', 'train_log.json');
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (existsSync(log) && existsSync(join(dir, 'killed', 'exp1', 'weights', 'resume.safetensors'))) {
          clearInterval(poll);
          killed.kill('SIGKILL');
          resolve();
        }
      }, 10);
      killed.on('exit', () => {
        clearInterval(poll);
        reject(new Error('the run ended before it could be killed'));
      });
    });
    const completed = Object.keys(JSON.parse(readFileSync(log, 'utf8')));
    expect(completed.length).toBeLessThan(3);
    const resumed = await train('--resume', join(dir, 'killed', 'exp1'), '--workers', '1');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`resuming ${join(dir, 'killed', 'exp1')} after epoch ${completed.length - 1}`);
    const whole = join(dir, 'whole', 'exp1');
    const again = join(dir, 'killed', 'exp1');
    expect(readFileSync(join(again, 'train_log.json'), 'utf8')).toBe(readFileSync(join(whole, 'train_log.json'), 'utf8'));
    expect(readFileSync(join(again, 'weights', 'last.pth')).equals(readFileSync(join(whole, 'weights', 'last.pth')))).toBe(true);
    expect(readFileSync(join(again, 'val_predictions.csv'), 'utf8')).toBe(readFileSync(join(whole, 'val_predictions.csv'), 'utf8'));
  });
});

describe('train: bad input', () => {
  const noStack = (stderr: string) => expect(stderr).not.toMatch(/\.(js|ts):\d+:\d+/);

  it('names a missing folder, an empty class and classes that differ', async () => {
    const dir = scratch();
    let r = await train(...SMALL, '--data_train', join(dir, 'nope'), '--data_val', join(UDTN, 'val'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--data_train: ${join(dir, 'nope')} does not exist`);
    noStack(r.stderr);
    mkdirSync(join(dir, 'train', 'a'), { recursive: true });
    mkdirSync(join(dir, 'train', 'b'), { recursive: true });
    copyFileSync(join(UDTN, 'train', '0', readdirSync(join(UDTN, 'train', '0'))[0]), join(dir, 'train', 'a', 'x.jpg'));
    r = await train(...SMALL, '--data_train', join(dir, 'train'), '--data_val', join(UDTN, 'val'));
    expect(r.stderr).toContain(`class 'b' (${join(dir, 'train', 'b')}) has no images`);
    copyFileSync(join(dir, 'train', 'a', 'x.jpg'), join(dir, 'train', 'b', 'y.jpg'));
    r = await train(...SMALL, '--data_train', join(dir, 'train'), '--data_val', join(UDTN, 'val'));
    expect(r.stderr).toContain('--data_train and --data_val have different classes: train has [a, b], val has [0, 1]');
  });

  it('rejects batch size or epochs below 1, and says which flag', async () => {
    expect((await train(...SMALL, ...udtn, '--batch-size', '0')).stderr).toContain("--batch-size must be a whole number of at least 1, not '0'");
    expect((await train(...SMALL, ...udtn, '--epochs', '-2')).stderr).toContain('--epochs must be a whole number of at least 1');
    expect((await train(...SMALL, ...udtn, '--freeze_layers', 'maybe')).stderr).toContain("--freeze_layers takes true or false, not 'maybe'");
  });

  it('rejects weights of the wrong width with the width they fit', async () => {
    const r = await train('--model', 'x1_0', '--img-size', '64', '--workers', '1', ...udtn, '--weights', new URL('./fixtures/model/x0_5.legacy.pth', import.meta.url).pathname);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('looks like ShuffleNet V2 x0_5');
  });

  it('reports an unreadable image, leaves it out, and says so at the end', async () => {
    const dir = scratch();
    for (const split of ['train', 'val']) {
      for (const cls of ['0', '1']) {
        mkdirSync(join(dir, split, cls), { recursive: true });
        for (const f of readdirSync(join(UDTN, split, cls)).slice(0, 3)) copyFileSync(join(UDTN, split, cls, f), join(dir, split, cls, f));
      }
    }
    writeFileSync(join(dir, 'train', '1', 'broken.png'), 'this is not a PNG');
    const r = await train(...SMALL, '--data_train', join(dir, 'train'), '--data_val', join(dir, 'val'), '--epochs', '1', '--save_ret', join(dir, 'runs'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('broken.png');
    expect(r.stdout).toContain('left out 1 unreadable image');
    const info = JSON.parse(readFileSync(join(dir, 'runs', 'exp1', 'train_info.json'), 'utf8'));
    expect(info.dataset['skipped files']).toHaveLength(1);
    expect(info.dataset.train.total).toBe(6);
  });

  it('stops on a non-finite loss, says at which step, and keeps the last good weights', async () => {
    const dir = scratch();
    const r = await train(...SMALL, ...udtn, '--freeze_layers', 'false', '--lr', '1e30', '--epochs', '2', '--save_ret', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the training loss became (NaN|Infinity|-Infinity) at epoch \d+, step \d+/);
    noStack(r.stderr);
  });
});
