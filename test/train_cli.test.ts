// `train` end to end, as a user runs it: step-by-step parity with the seed's loop in PyTorch float64, every output
// of a run well-formed, resume after a kill equal to an uninterrupted run, clear errors on bad input.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { readCheckpoint, writePth } from '../src/model/checkpoint/index.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { loadStateDict } from '../src/model/state.js';
import { type Target, TEST_ADAPTERS, TEST_TARGETS } from './gpu.js';
import { deterministicState } from './helpers/deterministic.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const DATASETS = new URL('../../shared/datasets/', import.meta.url).pathname;
const UDTN = join(DATASETS, 'udtn-sample');
const scratch = () => mkdtempSync(join(tmpdir(), 'train-'));

type Outcome = { stdout: string; stderr: string; code: number };
const train = (...args: string[]): Promise<Outcome> => trainWith({}, ...args);

/** `train` with extra environment variables. */
async function trainWith(env: Record<string, string>, ...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [CLI, 'train', ...args], { maxBuffer: 1 << 26, env: { ...process.env, ...env } });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

// The adapter is named: $SHUFFLENET_ADAPTER=cpu must not turn these into CPU-reference runs.
const SMALL = ['--model', 'x0_5', '--img-size', '64', '--pretrained', 'false', '--workers', '1', '--adapter', TEST_ADAPTERS[0]];
const udtn = ['--data_train', join(UDTN, 'train'), '--data_val', join(UDTN, 'val')];

interface EpochRecord {
  lr: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number;
  val_accuracy: number;
  val_margins: number[];
}
interface WeightSummary {
  sum: number;
  absmax: number;
  indices: number[];
  values: number[];
}
interface ParityCase {
  config: { optim: string; lr: number; momentum?: number; weight_decay: number };
  step_losses: number[];
  epochs: EpochRecord[];
  weights: Record<string, WeightSummary>;
  /**
   * Parameters whose gradient is zero in exact arithmetic (batch-norm shifts before a conv and another
   * batch norm), and the running means of those next batch norms, which follow them.
   */
  zero_gradient: string[];
  /** How far float32 PyTorch and float64 runs from weights nudged by 1e-6 land from the reference, number by number. */
  spread: { step_losses: number[]; epochs: Omit<EpochRecord, 'lr'>[]; weights: Record<string, Omit<WeightSummary, 'indices'>> };
}

const parity = JSON.parse(readFileSync(new URL('./fixtures/train/parity.json', import.meta.url), 'utf8')) as {
  epochs: number;
  batch: number;
  size: number;
  bn_scale: number;
  bn_shift: number;
  running_var: number;
  cases: Record<string, ParityCase>;
};
const PARITY_IMAGES = new URL('./fixtures/train/images/', import.meta.url).pathname;
const parityFiles = (split: string) =>
  readdirSync(join(PARITY_IMAGES, split), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.png'))
    .map((f) => `${split}/${f}`)
    .sort();

/** The step log has every digit; train_log.json keeps four decimals. */
const STEP_LOSS_FLOOR = 2e-5;
const LOSS_FLOOR = 1e-4;
/**
 * Evaluation mode reads the running means, which follow the batch-norm shifts whose gradient is zero
 * in exact arithmetic; Adam turns the float32 rounding of that zero into steps (see zero_gradient).
 */
const VAL_LOSS_FLOOR = 2e-3;
const MARGIN_FLOOR = 1e-2;
const WEIGHT_FLOOR = 1e-3;
/** train_log.json keeps four decimals of an accuracy. */
const ACCURACY_FLOOR = 1e-4;

/** Within `floor` plus three times the number's spread under float32-sized differences. */
function expectNear(got: number, want: number, spread: number, floor: number, what: string): void {
  expect(Math.abs(got - want), `${what}: ${got}, PyTorch float64 ${want} (spread ${spread.toExponential(1)})`).toBeLessThanOrEqual(floor + 3 * spread);
}

/** Our CLI on the fixture's case: every step's loss (SHUFFLENET_STEP_LOG) and the run folder. */
async function trainParityCase(target: Target, c: ParityCase['config']): Promise<{ steps: number[]; run: string }> {
  const dir = scratch();
  setBackend(new CpuBackend());
  const init = deterministicState(new ShuffleNetV2('x0_5', 2), { bnScale: parity.bn_scale, bnShift: parity.bn_shift, runningVar: parity.running_var });
  writeFileSync(join(dir, 'init.pth'), writePth(init));
  const stepLog = join(dir, 'steps.jsonl');
  const { code, stderr } = await trainWith(
    { SHUFFLENET_PROFILE: target.profile, SHUFFLENET_STEP_LOG: stepLog },
    '--model',
    'x0_5',
    '--img-size',
    String(parity.size),
    '--workers',
    '1',
    '--adapter',
    target.adapter,
    '--data_train',
    join(PARITY_IMAGES, 'train'),
    '--data_val',
    join(PARITY_IMAGES, 'val'),
    '--weights',
    join(dir, 'init.pth'),
    '--pretrained',
    'false',
    '--freeze_layers',
    'false',
    '--augment',
    'false',
    '--shuffle',
    'true',
    '--seed',
    '0',
    '--optim',
    c.optim,
    '--lr',
    String(c.lr),
    ...(c.momentum !== undefined ? ['--momentum', String(c.momentum)] : []),
    '--weight-decay',
    String(c.weight_decay),
    '--epochs',
    String(parity.epochs),
    '--batch-size',
    String(parity.batch),
    '--save_ret',
    join(dir, 'runs'),
  );
  expect(code, stderr).toBe(0);
  return {
    steps: readFileSync(stepLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).loss as number),
    run: join(dir, 'runs', 'exp1'),
  };
}

describe('train: parity with PyTorch float64 (scripts/fixtures/make_train_fixtures.py)', () => {
  for (const target of TEST_TARGETS) {
    for (const [name, want] of Object.entries(parity.cases)) {
      it(`${name} on ${target.label}: every step's loss, each epoch's losses and accuracies, the val logits, the final weights`, async () => {
        const c = want.config;
        const spread = want.spread;
        const { steps, run } = await trainParityCase(target, c);
        expect(steps.length, 'number of training steps').toBe(want.step_losses.length);
        want.step_losses.forEach((loss, i) => expectNear(steps[i], loss, spread.step_losses[i], STEP_LOSS_FLOOR, `step ${i} loss`));

        const log = JSON.parse(readFileSync(join(run, 'train_log.json'), 'utf8'));
        want.epochs.forEach((e, epoch) => {
          const got = log[`epoch:${epoch}`];
          const s = spread.epochs[epoch];
          expect(got.lr, `epoch ${epoch} lr`).toBeCloseTo(e.lr, 12);
          expectNear(got['train info'].loss, e.train_loss, s.train_loss, LOSS_FLOOR, `epoch ${epoch} train loss`);
          expectNear(got['train info'].accuracy, e.train_accuracy, s.train_accuracy, ACCURACY_FLOOR, `epoch ${epoch} train accuracy`);
          expectNear(got['valid info'].loss, e.val_loss, s.val_loss, VAL_LOSS_FLOOR, `epoch ${epoch} val loss`);
          expectNear(got['valid info'].accuracy, e.val_accuracy, s.val_accuracy, ACCURACY_FLOOR, `epoch ${epoch} val accuracy`);
        });

        // The last epoch is the best (the only one with val accuracy 1): its predictions give every val image's logit margin.
        const rows = readFileSync(join(run, 'val_predictions.csv'), 'utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(','));
        expect(rows.map(([file]) => file.split('/').slice(-3).join('/'))).toEqual(parityFiles('val'));
        const margins = rows.map(([, , , p0, p1]) => Math.log(Number(p1) / Number(p0)));
        margins.forEach((m, i) =>
          expectNear(m, want.epochs.at(-1)!.val_margins[i], spread.epochs.at(-1)!.val_margins[i], MARGIN_FLOOR, `val image ${i} logit margin`),
        );

        // Adam turns the rounding noise of a zero gradient into steps of up to lr: such parameters (and
        // the running means that follow them) are held to that bound only; their effect on the val
        // logits is checked above.
        const final = await readCheckpoint(readFileSync(join(run, 'weights', 'last.pth')), 'last.pth');
        const adam = c.optim !== 'SGD';
        for (const [key, w] of Object.entries(want.weights)) {
          const got = final.get(key)!.data as Float32Array;
          if (adam && want.zero_gradient.includes(key)) {
            w.indices.forEach((index, j) =>
              expect(Math.abs(got[index] - w.values[j]), `${key}[${index}] (zero gradient)`).toBeLessThanOrEqual(c.lr * steps.length),
            );
            continue;
          }
          const scale = Math.max(w.absmax, 1e-3);
          let sum = 0;
          for (const v of got) sum += v;
          expectNear(sum, w.sum, spread.weights[key].sum, WEIGHT_FLOOR * scale * Math.sqrt(got.length), `${key} sum`);
          w.indices.forEach((index, j) => expectNear(got[index], w.values[j], spread.weights[key].values[j], WEIGHT_FLOOR * scale, `${key}[${index}]`));
        }
      }, 300_000); // SwiftShader in the gpu profile (workgroup-memory tiles) takes minutes
    }
  }
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
      for (const key of ['accuracy', 'loss', 'balanced accuracy', 'mean precision', 'mean recall', 'mean specificity', 'mean f1 score'])
        expect(Number.isFinite(m[key]), key).toBe(true);
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

  it('with a frozen backbone, updates its running statistics under --frozen-bn train and keeps them under eval', async () => {
    const dir = scratch();
    for (const mode of ['train', 'eval']) {
      const { code, stderr } = await train(...SMALL, ...udtn, '--epochs', '1', '--frozen-bn', mode, '--save_ret', join(dir, mode));
      expect(code, stderr).toBe(0);
      const last = await readCheckpoint(readFileSync(join(dir, mode, 'exp1', 'weights', 'last.pth')), 'last.pth');
      // A fresh model's running means are 0 (PyTorch's initialisation); the stem's and a stage's.
      for (const key of ['conv1.1.running_mean', 'stage3.0.branch2.1.running_mean']) {
        const moved = Math.max(...Array.from(last.get(key)!.data as Float32Array, Math.abs));
        if (mode === 'train') expect(moved, `${key} under --frozen-bn train`).toBeGreaterThan(0);
        else expect(moved, `${key} under --frozen-bn eval`).toBe(0);
      }
    }
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
    const r = await train(
      '--model',
      'x1_0',
      '--img-size',
      '64',
      '--workers',
      '1',
      ...udtn,
      '--weights',
      new URL('./fixtures/model/x0_5.legacy.pth', import.meta.url).pathname,
    );
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
