// `npm run bench [-- kernels|guidelines|model|all|peers] [--json FILE] [--smoke] [--adapter TEXT] [--configs x1_0:64:224,...]`:
// kernel throughput against the adapter's own ceilings, the ShuffleNet V2 paper's four guidelines on
// our kernels, and whole-model speed. --smoke runs everything once on tiny sizes (CI). `peers` runs the
// model benchmark beside TensorFlow.js and jax-js, one process each, alternating (bench/peers.ts).

import { writeFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { openContext } from './context.js';
import { guidelines, printGuidelines } from './guidelines.js';
import { kernels, printKernels } from './kernels.js';
import { dataBench, printData } from './data.js';
import { modelBench, printModel } from './model.js';
import { peersBench, printPeers } from './peers.js';
import { FULL, SMOKE } from './timing.js';
import { WIDTHS, type Width } from '#engine/model/shufflenet';

const MODES = ['kernels', 'guidelines', 'model', 'all', 'peers'] as const;

async function main(): Promise<void> {
  const args = await yargs(hideBin(process.argv))
    .scriptName('bench')
    .command('$0 [mode]', 'run benchmarks', (y) => y.positional('mode', { choices: MODES, default: 'kernels' as const }))
    .option('json', { type: 'string', describe: 'also write the figures to this JSON file' })
    .option('smoke', { type: 'boolean', default: false, describe: 'every benchmark once, on tiny sizes' })
    .option('adapter', { type: 'string' })
    .option('configs', {
      type: 'string',
      describe: 'model mode: the configurations to run, WIDTH:BATCH:RESOLUTION separated by commas (e.g. x0_5:8:224,x1_0:256:224)',
    })
    .option('data', { type: 'boolean', default: true, describe: 'model mode: also time the data pipeline' })
    .option('tfjs', { type: 'string', default: '/tmp/peers', describe: 'peers mode: an installed copy of ../shared/peers' })
    .option('jaxjs', { type: 'string', default: '/tmp/jaxjs', describe: 'peers mode: an installed copy of ../shared/peers/jaxjs' })
    .option('rounds', { type: 'number', default: 2, describe: 'peers mode: alternating rounds per configuration' })
    .strict()
    .parseAsync();
  if (args.mode === 'peers') {
    const adapters = args.adapter === undefined ? ['llvmpipe', 'swiftshader'] : [args.adapter];
    const rows = peersBench({ tfjsDir: args.tfjs, jaxDir: args.jaxjs, rounds: args.rounds, adapters });
    printPeers(rows, args.rounds);
    if (args.json) writeFileSync(args.json, `${JSON.stringify(rows, null, 1)}\n`);
    return;
  }
  const ctx = await openContext(args.adapter, args.smoke ? SMOKE : FULL, args.smoke);
  const adapter = ctx.backend.adapter;
  console.log(
    `adapter: ${adapter.device || adapter.description} | ${adapter.description} | backend ${adapter.backend} | ${adapter.featureLevel} | profile ${ctx.backend.gpu.profile.name}${args.smoke ? ' | smoke run' : ''}\n`,
  );
  const mode = args.mode;
  const out: Record<string, unknown> = { adapter, profile: ctx.backend.gpu.profile.name, smoke: args.smoke };
  if (mode === 'kernels' || mode === 'all') {
    const rows = await kernels(ctx);
    printKernels(rows);
    out.kernels = rows;
  }
  if (mode === 'guidelines' || mode === 'all') {
    const result = await guidelines(ctx);
    printGuidelines(result);
    out.guidelines = result;
  }
  if (mode === 'model' || mode === 'all') {
    const rows = await modelBench(ctx, args.configs === undefined ? undefined : parseConfigs(args.configs));
    printModel(rows);
    out.model = rows;
    if (args.data) {
      const data = await dataBench(ctx);
      printData(data);
      out.data = data;
    }
  }
  if (args.json) writeFileSync(args.json, `${JSON.stringify(out, null, 1)}\n`);
}

function parseConfigs(text: string): [Width, number, number][] {
  return text.split(',').map((part) => {
    const [width, batch, resolution] = part.split(':');
    if (!(width in WIDTHS) || !(Number(batch) >= 1) || !(Number(resolution) >= 1))
      throw new Error(`--configs: '${part}' is not WIDTH:BATCH:RESOLUTION (WIDTH one of ${Object.keys(WIDTHS).join(', ')})`);
    return [width as Width, Number(batch), Number(resolution)];
  });
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(process.env.DEBUG ? e.stack : `bench: ${e.message}`);
    process.exit(1);
  },
);
