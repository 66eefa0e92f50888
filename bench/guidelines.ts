// The ShuffleNet V2 paper's four speed experiments (Ma et al., ECCV 2018, Tables 1-4) on our kernels:
// each test network is a block repeated 10 times at 56x56 input (8x8 and 2 repeats with --smoke), run
// forward only (noGrad) through the engine's autograd ops, timed as the median of several runs after
// warm-up with the GPU awaited (bench/timing.ts), in batches per second beside the paper's GTX 1080 Ti
// figures. Every row also gives the FLOPs and the memory access cost (MAC) the configuration implies
// by the paper's formula (how blocks are counted: bench/guidelines_nets.ts), and the number of kernel
// dispatches one forward pass takes. G4 adds what fusing its element-wise ops into the convolutions
// saves.
//
// Batch: 1 image. The paper's GPU figures are only possible at batch 1: its G1 1:1 network is 2.06
// GFLOP per image, so 1480 batches/s is 3.0 TFLOP/s at batch 1 but would be 24 TFLOP/s at batch 8,
// twice the 1080 Ti's 11.3 TFLOP/s peak.

import { tidy } from '#engine/autograd/tensor';
import { noGrad } from '#engine/autograd/tape';
import type { BenchContext } from './context.js';
import { type Geometry, g1Net, g2Net, g3Net, g4Net, type Net } from './guidelines_nets.js';
import { formatNumber, table } from './report.js';
import { median, time } from './timing.js';

/** Relative speed differences below this count as noise when deciding whether a guideline holds. */
const TOLERANCE = 0.05;
/** Keep timing a guideline's networks for at least this long (full runs). */
const MIN_SECONDS = 20;
const BATCH = 1;

export interface GuidelineRow {
  config: string;
  /** Our batches per second (median run). */
  ours: number;
  /** The paper's batches per second on a GTX 1080 Ti, null where not known. */
  paper: number | null;
  /** Memory access cost of one forward pass, float elements. */
  mac: number;
  flops: number;
  /** Kernel dispatches per forward pass. */
  kernels: number;
  /** Median and fastest of the timed runs, milliseconds, and how many runs were timed. */
  ms: number;
  bestMs: number;
  runs: number;
  /** Interquartile range of the timed runs over their median. */
  spread: number;
  [extra: string]: unknown;
}

export interface Guideline {
  statement: string;
  rows: GuidelineRow[];
  /** Whether the median speeds (`ours`) agree with the guideline, by `rule`. */
  holds: boolean;
  /** The same check on each configuration's fastest run, less sensitive to a busy machine. */
  holdsOnFastest: boolean;
  /** What `holds` checks. */
  rule: string;
  batch: number;
  input: string;
  repeats: number;
  /** How it was measured (the same for every guideline). */
  setup: string;
  note: string;
}

export interface FusionRow {
  c: number;
  /** Conv + separate ReLU kernels + separate add kernel, as in the ReLU-and-shortcut row. */
  separateMs: number;
  /** ReLU in the convolutions' epilogues, add + ReLU as one fused kernel. */
  fusedMs: number;
  /** The same convolutions with no element-wise work at all (the "neither" row), a lower bound. */
  noElementwiseMs: number;
  separate: number;
  fused: number;
  separateKernelsPerBlock: number;
  fusedKernelsPerBlock: number;
  separateMac: number;
  fusedMac: number;
  /** (separate - fused) / repeats, microseconds: from the medians, and from each variant's fastest run. */
  savedPerBlockUs: number;
  savedPerBlockUsOnFastest: number;
  /** Share of the element-wise cost (separate - none) that fusion removes; null where that cost is within noise (TOLERANCE). */
  recovered: number | null;
  /** Largest |separate - fused| over the network's output (the two compute the same block). */
  maxAbsDiff: number;
}

export interface GuidelinesResult {
  G1: Guideline;
  G2: Guideline;
  G3: Guideline;
  G4: Guideline & { fusion: FusionRow[] };
}

interface Measured {
  ms: number;
  bestMs: number;
  runs: number;
  perSecond: number;
  kernels: number;
  /** Interquartile range of the samples over their median. */
  spread: number;
}

const round = (x: number) => Number(x.toPrecision(4));

/**
 * Times one forward pass of each network on its input. A CPU-emulated adapter shares the CPU with
 * everything else on the machine, whose load can halve its speed for seconds at a time; so the
 * networks of one guideline are timed interleaved, one run at a time, and a change of load hits them
 * alike: ctx.timing.warmup runs of each (at least one: it compiles the pipelines and counts the
 * dispatches), then rounds in alternating order, each timing every network once with time() (whose
 * own first run after the switch is discarded): ctx.timing.iters rounds, more (up to three times as
 * many) while the group has run for less than MIN_SECONDS, so that quick networks get more samples.
 * Per network: the median over the rounds, the fastest run, and the interquartile range relative to
 * the median. The networks' weights are freed afterwards.
 */
async function measureAll(ctx: BenchContext, nets: Net[]): Promise<Measured[]> {
  const gpu = ctx.backend.gpu;
  const works = nets.map((net) => () => {
    noGrad(() => net.forward(net.input));
  });
  try {
    const kernels = works.map((work) => {
      const before = gpu.dispatches;
      tidy(work);
      const count = gpu.dispatches - before;
      for (let i = 1; i < ctx.timing.warmup; i++) tidy(work);
      return count;
    });
    const rounds = Math.max(1, ctx.timing.iters);
    const samples: number[][] = nets.map(() => []);
    const start = performance.now();
    const more = (r: number) => r < rounds || (!ctx.smoke && r < 3 * rounds && performance.now() - start < MIN_SECONDS * 1000);
    for (let r = 0; more(r); r++) {
      const order = nets.map((_, i) => (r % 2 ? nets.length - 1 - i : i));
      for (const i of order) samples[i].push((await time(ctx.backend, works[i], { warmup: 1, iters: 1 })).medianMs);
    }
    return samples.map((s, i) => {
      const sorted = [...s].sort((a, b) => a - b);
      const ms = median(s);
      const spread = (sorted[Math.ceil((3 * s.length) / 4) - 1] - sorted[Math.floor(s.length / 4)]) / ms;
      return { ms, bestMs: sorted[0], runs: s.length, perSecond: 1000 / ms, kernels: kernels[i], spread };
    });
  } finally {
    nets.forEach((net) => net.dispose());
  }
}

function row(config: string, m: Measured, net: Net, paper: number | null, extra: Record<string, unknown> = {}): GuidelineRow {
  return {
    config,
    ours: round(m.perSecond),
    paper,
    mac: Math.round(net.mac),
    flops: Math.round(net.flops),
    kernels: m.kernels,
    ms: round(m.ms),
    bestMs: round(m.bestMs),
    runs: m.runs,
    spread: round(m.spread),
    ...extra,
  };
}

/** True when speeds never rise by more than TOLERANCE from one to the next and the last is clearly below the first. */
function decreasing(speeds: number[]): boolean {
  for (let i = 1; i < speeds.length; i++) if (speeds[i] > speeds[i - 1] * (1 + TOLERANCE)) return false;
  return speeds[speeds.length - 1] < speeds[0] * (1 - TOLERANCE);
}

const tol = `${TOLERANCE * 100}%`;

/** `check` applied to the rows' median speeds and to their fastest runs. */
function verdicts(rows: GuidelineRow[], check: (speeds: number[]) => boolean): Pick<Guideline, 'holds' | 'holdsOnFastest'> {
  return { holds: check(rows.map((r) => r.ours)), holdsOnFastest: check(rows.map((r) => 1000 / r.bestMs)) };
}

async function g1(ctx: BenchContext, g: Geometry, base: Setup): Promise<Guideline> {
  const configs: [string, number, number, number][] = [
    ['1:1', 128, 128, 1480],
    ['1:2', 90, 180, 1296],
    ['1:6', 52, 312, 876],
    ['1:12', 36, 432, 748],
  ];
  const nets = configs.map(([, c1, c2]) => g1Net(g, c1, c2));
  const measured = await measureAll(ctx, nets);
  const rows = configs.map(([config, c1, c2, paper], i) => row(config, measured[i], nets[i], paper, { c1, c2 }));
  return {
    statement: 'G1: equal channel width minimizes memory access cost (MAC)',
    rows,
    ...verdicts(rows, decreasing),
    rule: `speed falls (within ${tol}) as c1:c2 departs from 1:1, and 1:12 is more than ${tol} slower than 1:1`,
    ...base,
    note: 'Block: 1x1 conv c1->c2 then 1x1 conv c2->c1, no activation; c1*c2 ~ 16384 keeps FLOPs fixed. MAC = hw(c1+c2) + c1*c2 summed over both convs of every block.',
  };
}

async function g2(ctx: BenchContext, g: Geometry, base: Setup): Promise<Guideline> {
  const configs: [number, number, number][] = [
    [1, 128, 2451],
    [2, 180, 1725],
    [4, 256, 1026],
    [8, 360, 634],
  ];
  const nets = configs.map(([groups, c]) => g2Net(g, c, groups));
  const measured = await measureAll(ctx, nets);
  const rows = configs.map(([groups, c, paper], i) => row(`g=${groups}`, measured[i], nets[i], paper, { groups, c }));
  return {
    statement: 'G2: excessive group convolution increases MAC',
    rows,
    ...verdicts(rows, decreasing),
    rule: `speed falls (within ${tol}) as g grows, and g=8 is more than ${tol} slower than g=1`,
    ...base,
    note: 'Block: one 1x1 group conv c->c with g groups; c*c/g ~ 16384 keeps FLOPs fixed. MAC = hw(2c) + c*c/g per conv. Our engine runs a 1x1 group conv as one matrix-product dispatch per group.',
  };
}

async function g3(ctx: BenchContext, g: Geometry, base: Setup): Promise<Guideline> {
  // Series: k convs of equal width w with k*w^2 ~ 128^2 (w = 90, 64), so each conv keeps G1's 1:1 ratio.
  // Parallel: k convs 128 -> 128/k on the same input, concatenated: exactly the FLOPs of one 128 -> 128.
  const configs: [string, number, boolean, number, number][] = [
    ['1-fragment', 1, false, 128, 2446],
    ['2-fragment-series', 2, true, 90, 1790],
    ['4-fragment-series', 4, true, 64, 752],
    ['2-fragment-parallel', 2, false, 128, 1537],
    ['4-fragment-parallel', 4, false, 128, 691],
  ];
  const nets = configs.map(([, fragments, series, width]) => g3Net(g, fragments, series, width));
  const measured = await measureAll(ctx, nets);
  const rows = configs.map(([config, fragments, series, width, paper], i) => {
    const channels = series
      ? Array(fragments + 1)
          .fill(width)
          .join('->')
      : fragments === 1
        ? `${width}->${width}`
        : `${width}->${fragments}x${width / fragments}->cat ${width}`;
    return row(config, measured[i], nets[i], paper, { channels });
  });
  return {
    statement: 'G3: network fragmentation reduces degree of parallelism',
    rows,
    ...verdicts(rows, ([one, s2, s4, p2, p4]) => decreasing([one, s2, s4]) && decreasing([one, p2, p4])),
    rule: `1-fragment fastest and 4 fragments no faster than 2 (within ${tol}), 4 fragments more than ${tol} slower than 1, in series and in parallel`,
    ...base,
    note: "Series: k 1x1 convs w->w one after another, the network w wide (w = 128, 90, 64 for k = 1, 2, 4; k*w^2 ~ 128^2, so FLOPs stay equal and every conv keeps the 1:1 ratio of G1). Parallel: k 1x1 convs 128->128/k on the same input, outputs concatenated (cat: one copy kernel per branch) back to 128. MAC sums hw(c1+c2) + c1*c2 over every conv, plus 2*hw*128 for the concatenation's copy.",
  };
}

async function g4(ctx: BenchContext, g: Geometry, base: Setup): Promise<GuidelinesResult['G4']> {
  const channels = [32, 64, 128];
  // The paper's Table 4 (GTX 1080 Ti) at c = 32; the c = 64 and 128 rows are left null (not verified here).
  const paper: Record<number, [number, number, number, number]> = { 32: [2427, 2647, 2672, 2842] };
  const variants: [string, boolean, boolean][] = [
    ['ReLU+shortcut', true, true],
    ['no shortcut', true, false],
    ['no ReLU', false, true],
    ['neither', false, false],
  ];
  const rows: GuidelineRow[] = [];
  const fusion: FusionRow[] = [];
  for (const c of channels) {
    // The four variants and the fused block, timed together; same seeds, so the same weights and input.
    const nets = [...variants.map(([, relu, shortcut]) => g4Net(g, c, { mode: 'separate', relu, shortcut })), g4Net(g, c, { mode: 'fused' })];
    const maxAbsDiff = await outputDifference(nets[0], nets[4]);
    const measured = await measureAll(ctx, nets);
    variants.forEach(([name, relu, shortcut], i) => rows.push(row(`c=${c} ${name}`, measured[i], nets[i], paper[c]?.[i] ?? null, { c, relu, shortcut })));
    const [sep, none, fused] = [measured[0], measured[3], measured[4]];
    fusion.push({
      c,
      separateMs: round(sep.ms),
      fusedMs: round(fused.ms),
      noElementwiseMs: round(none.ms),
      separate: round(sep.perSecond),
      fused: round(fused.perSecond),
      separateKernelsPerBlock: sep.kernels / g.repeats,
      fusedKernelsPerBlock: fused.kernels / g.repeats,
      separateMac: Math.round(nets[0].mac),
      fusedMac: Math.round(nets[4].mac),
      savedPerBlockUs: round(((sep.ms - fused.ms) * 1000) / g.repeats),
      savedPerBlockUsOnFastest: round(((sep.bestMs - fused.bestMs) * 1000) / g.repeats),
      recovered: sep.ms - none.ms > TOLERANCE * sep.ms ? round((sep.ms - fused.ms) / (sep.ms - none.ms)) : null,
      maxAbsDiff,
    });
  }
  // Per c, rows in the order ReLU+shortcut, no shortcut, no ReLU, neither.
  const check = (speeds: number[]) =>
    channels.every((_, i) => {
      const [both, noShortcut, noRelu, neither] = speeds.slice(4 * i, 4 * i + 4);
      return decreasing([neither, noShortcut, both]) && decreasing([neither, noRelu, both]);
    });
  return {
    statement: 'G4: element-wise operations are non-negligible',
    rows,
    ...verdicts(rows, check),
    rule: `at every c, removing ReLU or the shortcut never slows the block (within ${tol}) and removing both is more than ${tol} faster`,
    ...base,
    note: 'Block: ResNet bottleneck without batch norm, 1x1 c->c/4, ReLU, 3x3 c/4->c/4, ReLU, 1x1 c/4->c, + shortcut, ReLU; ReLU and add run as separate kernels. MAC = per conv hw(c1+c2) + k^2*c1*c2, plus 2*hw*ch per ReLU and 3*hw*c per add. Fusion: ReLU in the convs\' epilogues (conv2dFused) and relu(a + b) as one fused() kernel, against the separate kernels, same weights; "none" is the block without element-wise work, the most fusion could save.',
    fusion,
  };
}

/** Largest |a - b| between the outputs of two networks on their inputs. */
async function outputDifference(a: Net, b: Net): Promise<number> {
  const outputs = tidy(() => noGrad(() => [a.forward(a.input), b.forward(b.input)]));
  try {
    const [x, y] = await Promise.all(outputs.map((t) => t.floats()));
    return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
  } finally {
    outputs.forEach((t) => t.dispose());
  }
}

type Setup = Pick<Guideline, 'batch' | 'input' | 'repeats' | 'setup'>;

export async function guidelines(ctx: BenchContext): Promise<GuidelinesResult> {
  const g: Geometry = ctx.smoke ? { batch: BATCH, size: 8, repeats: 2 } : { batch: BATCH, size: 56, repeats: 10 };
  const runs = `median of ${Math.max(1, ctx.timing.iters)}${ctx.smoke ? '' : ` to ${3 * Math.max(1, ctx.timing.iters)}`} runs after warm-up, the configurations of a guideline timed interleaved (one run of each per round)`;
  const base: Setup = {
    batch: g.batch,
    input: `${g.size}x${g.size}`,
    repeats: g.repeats,
    setup: `batch ${g.batch} (the paper's GPU figures imply batch 1), ${g.size}x${g.size} input, ${g.repeats} blocks, forward only (noGrad), ${runs}, GPU awaited; MAC in float elements for one batch; speed differences under ${tol} count as noise${ctx.smoke ? '; SMOKE RUN: tiny sizes, one run each, the speeds and `holds` mean nothing' : ''}`,
  };
  return {
    G1: await g1(ctx, g, base),
    G2: await g2(ctx, g, base),
    G3: await g3(ctx, g, base),
    G4: await g4(ctx, g, base),
  };
}

const mega = (x: number) => formatNumber(x / 1e6);
const relative = (x: number | null, base: number | null) => (x === null || base === null ? '-' : (x / base).toFixed(2));

function printGuideline(
  paperTable: string,
  gl: Guideline,
  extraHeaders: string[],
  extra: (r: GuidelineRow) => string[],
  baseOf: (i: number) => number = () => 0,
): void {
  const rows = gl.rows;
  const percent = (x: number) => `${(100 * x).toFixed(0)}%`;
  console.log(`${gl.statement} (paper's ${paperTable})`);
  console.log(
    table(
      [
        'config',
        ...extraHeaders,
        'MFLOP',
        'MAC (M)',
        'kernels',
        'runs',
        'ms',
        'IQR',
        'best ms',
        'ours batches/s',
        'paper batches/s',
        'ours rel.',
        'paper rel.',
      ],
      rows.map((r, i) => {
        const base = rows[baseOf(i)];
        return [
          r.config,
          ...extra(r),
          mega(r.flops),
          mega(r.mac),
          String(r.kernels),
          String(r.runs),
          r.ms,
          percent(r.spread),
          r.bestMs,
          r.ours,
          r.paper ?? '-',
          relative(r.ours, base.ours),
          relative(r.paper, base.paper),
        ];
      }),
    ),
  );
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  console.log(`holds: ${yes(gl.holds)} on the medians, ${yes(gl.holdsOnFastest)} on the fastest runs (rule: ${gl.rule})`);
  console.log(`note: ${gl.note}\n`);
}

export function printGuidelines(result: GuidelinesResult): void {
  console.log('ShuffleNet V2 guidelines (Ma et al. 2018, Tables 1-4) on our kernels; paper: GTX 1080 Ti, batches/s');
  console.log(`setup: ${result.G1.setup}`);
  console.log("columns: MAC in millions of floats by the paper's formula; kernels = dispatches per forward pass; runs = timed runs; IQR =");
  console.log('interquartile range of the runs over their median; best = fastest run; rel. = speed relative to the first row of its group\n');
  printGuideline('Table 1', result.G1, ['c1', 'c2'], (r) => [String(r.c1), String(r.c2)]);
  printGuideline('Table 2', result.G2, ['c'], (r) => [String(r.c)]);
  printGuideline('Table 3', result.G3, ['channels'], (r) => [String(r.channels)]);
  printGuideline(
    'Table 4',
    result.G4,
    [],
    () => [],
    (i) => i - (i % 4),
  );
  console.log('G4 extension: ReLU and shortcut add fused into the kernels, against separate kernels (per block of the bottleneck)');
  console.log(
    table(
      [
        'c',
        'kernels sep.',
        'kernels fused',
        'MAC sep. (M)',
        'MAC fused (M)',
        'ms sep.',
        'ms fused',
        'ms none',
        'sep. batches/s',
        'fused batches/s',
        'saved us/block',
        'of elem.-wise cost',
        'saved us/block (fastest runs)',
        'max |diff|',
      ],
      result.G4.fusion.map((f) => [
        String(f.c),
        String(f.separateKernelsPerBlock),
        String(f.fusedKernelsPerBlock),
        mega(f.separateMac),
        mega(f.fusedMac),
        f.separateMs,
        f.fusedMs,
        f.noElementwiseMs,
        f.separate,
        f.fused,
        f.savedPerBlockUs,
        f.recovered === null ? '-' : `${(100 * f.recovered).toFixed(0)}%`,
        f.savedPerBlockUsOnFastest,
        f.maxAbsDiff === 0 ? '0' : f.maxAbsDiff.toExponential(1),
      ]),
    ),
  );
  console.log();
}
