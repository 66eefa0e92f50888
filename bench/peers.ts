// Our whole-model speed beside the two WebGPU peers (TensorFlow.js and jax-js with jit) on the same
// adapter: one process per configuration, ours and each peer's alternating, `rounds` times, the median
// of each reported with the ratio to the best peer. The work list is the speed issue's table.
// The peers live outside the project (../shared/peers, copied and installed once; see its README).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { table } from './report.js';
import { median } from './timing.js';

type Adapter = 'llvmpipe' | 'swiftshader';
type Mode = 'infer' | 'train' | 'frozen';

interface Config {
  adapter: Adapter;
  model: 'x0_5' | 'x1_0';
  res: number;
  /** The modes compared with TensorFlow.js. */
  modes: Mode[];
  /** The modes also compared with jax-js. */
  jax: Mode[];
}

const BATCH = 8;
const WORK: Config[] = [
  { adapter: 'llvmpipe', model: 'x0_5', res: 112, modes: ['train', 'infer'], jax: ['train', 'infer'] },
  { adapter: 'llvmpipe', model: 'x0_5', res: 224, modes: ['train', 'frozen'], jax: [] },
  { adapter: 'llvmpipe', model: 'x1_0', res: 224, modes: ['infer'], jax: [] },
  { adapter: 'swiftshader', model: 'x0_5', res: 112, modes: ['train', 'infer'], jax: ['infer'] },
  { adapter: 'swiftshader', model: 'x0_5', res: 224, modes: ['frozen'], jax: [] },
];
const TFJS_MODE: Record<Mode, string> = { infer: 'infer', train: 'train_full', frozen: 'train_frozen' };
// The peers' frozen step runs the backbone in evaluation mode: ours with `--frozen-bn eval` is that step.
const OURS_FIELD: Record<Mode, string> = { infer: 'inferenceImgPerS', train: 'trainImgPerS', frozen: 'frozenEvalBnImgPerS' };
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface PeerOptions {
  tfjsDir: string;
  jaxDir: string;
  rounds: number;
  adapters: string[];
}

export interface PeerRow {
  adapter: Adapter;
  work: string;
  ours: number;
  tfjs: number;
  jax?: number;
}

/** Runs a command, returning its stdout's JSON lines; a failed run names the command and its last error line. */
function jsonLines(command: string[], cwd: string, env: NodeJS.ProcessEnv): Record<string, unknown>[] {
  const r = spawnSync(command[0], command.slice(1), { cwd, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...env }, encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) {
    const last = `${r.stderr}${r.stdout}`.trim().split('\n').pop();
    throw new Error(`'${command.join(' ')}' in ${cwd} failed (${r.status ?? r.signal}): ${last}`);
  }
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function ours(c: Config): Record<Mode, number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-peers-'));
  try {
    const json = join(dir, 'ours.json');
    const args = ['model', '--data', 'false', '--adapter', c.adapter, '--configs', `${c.model}:${BATCH}:${c.res}`, '--json', json];
    jsonLines([process.execPath, new URL('./main.js', import.meta.url).pathname, ...args], process.cwd(), {});
    const row = (JSON.parse(readFileSync(json, 'utf8')) as { model: Record<string, number>[] }).model[0];
    return Object.fromEntries((['infer', 'train', 'frozen'] as Mode[]).map((m) => [m, row[OURS_FIELD[m]]])) as Record<Mode, number>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function tfjs(c: Config, dir: string): Partial<Record<Mode, number>> {
  const adapterArgs = c.adapter === 'llvmpipe' ? ['--dawn', 'backend=opengl', '--compat'] : [];
  const env = c.adapter === 'llvmpipe' ? { EGL_PLATFORM: 'surfaceless' } : { VK_ICD_FILENAMES: SWIFTSHADER_ICD };
  const modes = c.modes.map((m) => TFJS_MODE[m]).join(',');
  const args = ['--backend', 'webgpu', ...adapterArgs, '--models', c.model, '--batches', String(BATCH), '--res', String(c.res), '--modes', modes];
  const lines = jsonLines([process.execPath, 'tfjs_bench.mjs', ...args, '--warmup', '2', '--iters', '5'], dir, env);
  const out: Partial<Record<Mode, number>> = {};
  for (const m of c.modes) {
    const line = lines.find((l) => l.mode === TFJS_MODE[m]);
    if (typeof line?.img_per_s !== 'number') throw new Error(`TensorFlow.js printed no img_per_s for ${c.model} ${c.res} ${m} on ${c.adapter}`);
    out[m] = line.img_per_s;
  }
  return out;
}

function jax(c: Config, mode: Mode, dir: string): number {
  const args = ['--backend', c.adapter, '--model', c.model, '--batch', String(BATCH), '--res', String(c.res), '--mode', mode, '--warmup', '2', '--iters', '5'];
  const line = jsonLines([process.execPath, 'jax_bench.mjs', ...args], dir, {}).find((l) => typeof l.images_per_s === 'number');
  if (!line) throw new Error(`jax-js printed no images_per_s for ${c.model} ${c.res} ${mode} on ${c.adapter}`);
  return line.images_per_s as number;
}

function checkPeer(dir: string, script: string, readme: string): void {
  if (!existsSync(join(dir, script)) || !existsSync(join(dir, 'node_modules')))
    throw new Error(`no installed peer in ${dir} (${script} and node_modules): set it up as ${readme} says, or pass its folder`);
}

/** Alternates ours and the peers, one process per configuration, `rounds` times; medians per row. */
export function peersBench(o: PeerOptions): PeerRow[] {
  checkPeer(o.tfjsDir, 'tfjs_bench.mjs', '../shared/peers/README.md');
  checkPeer(o.jaxDir, 'jax_bench.mjs', '../shared/peers/jaxjs/README.md');
  const work = WORK.filter((c) => o.adapters.includes(c.adapter));
  const samples = new Map<string, { ours: number[]; tfjs: number[]; jax: number[] }>();
  const key = (c: Config, m: Mode) => `${c.adapter} ${c.model} ${c.res} b${BATCH} ${m}`;
  for (let round = 0; round < o.rounds; round++) {
    for (const c of work) {
      console.error(`round ${round + 1}/${o.rounds}: ${c.adapter} ${c.model} ${c.res}`);
      const mine = ours(c);
      const theirs = tfjs(c, o.tfjsDir);
      for (const m of c.modes) {
        const s = samples.get(key(c, m)) ?? { ours: [], tfjs: [], jax: [] };
        s.ours.push(mine[m]);
        s.tfjs.push(theirs[m] as number);
        if (c.jax.includes(m)) s.jax.push(jax(c, m, o.jaxDir));
        samples.set(key(c, m), s);
        console.error(
          `  ${key(c, m)}: ours ${s.ours.at(-1)?.toFixed(2)}, TF.js ${s.tfjs.at(-1)?.toFixed(2)}${c.jax.includes(m) ? `, jax-js ${s.jax.at(-1)?.toFixed(2)}` : ''} img/s`,
        );
      }
    }
  }
  return work.flatMap((c) =>
    c.modes.map((m) => {
      const s = samples.get(key(c, m)) as { ours: number[]; tfjs: number[]; jax: number[] };
      return { adapter: c.adapter, work: key(c, m), ours: median(s.ours), tfjs: median(s.tfjs), jax: s.jax.length ? median(s.jax) : undefined };
    }),
  );
}

export function printPeers(rows: PeerRow[], rounds: number): void {
  console.log(`images/s, median of ${rounds} alternating rounds, one process per configuration:`);
  console.log(
    table(
      ['work', 'ours', 'TF.js', 'jax-js', 'ours / TF.js', 'ours / jax-js'],
      rows.map((r) => [r.work, r.ours, r.tfjs, r.jax ?? '-', r.ours / r.tfjs, r.jax === undefined ? '-' : r.ours / r.jax]),
    ),
  );
}
