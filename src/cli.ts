#!/usr/bin/env node
// Command-line entry: `node dist/cli.js <command>`. Errors are printed as one clear message; set
// DEBUG=1 for the stack trace.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { doctor, printReport } from './commands/doctor.js';
import { info, printInfo } from './commands/info.js';
import { predictFiles } from './commands/predict.js';
import { modelSourceOptions, resolveModelSource } from './commands/model_source.js';
import { evaluate, evaluateOptions, printEvaluation } from './commands/evaluate.js';
import { exportModel, exportOptions } from './commands/export.js';
import { isWidth, WIDTHS, type Width } from './model/shufflenet.js';
import { parseBoolean, positiveInteger } from './commands/flags.js';
import { trainCommand, trainOptions } from './commands/train.js';
import { serveCommand, serveOptions } from './commands/serve.js';

const adapterOption = {
  type: 'string',
  describe:
    "adapter to use: text matched against the adapter's vendor, architecture, device, description or backend (e.g. nvidia, llvmpipe, swiftshader), or 'cpu' for the CPU reference; default: $SHUFFLENET_ADAPTER, else the best found",
} as const;

const modelOption = { type: 'string', default: 'x0_5', choices: Object.keys(WIDTHS), describe: 'ShuffleNet V2 width' } as const;

function width(value: string): Width {
  if (!isWidth(value)) throw new Error(`--model must be one of ${Object.keys(WIDTHS).join(', ')}, not '${value}'`);
  return value;
}

/** A flag given twice would reach the commands as a list ('4,100'): refused, naming it. */
function refuseRepeatedFlags(argv: Record<string, unknown>): void {
  const repeated = Object.entries(argv).find(([key, value]) => key !== '_' && key !== 'images' && Array.isArray(value));
  if (repeated)
    throw new Error(`--${repeated[0]} is given ${(repeated[1] as unknown[]).length} times (${(repeated[1] as unknown[]).join(', ')}): give it once`);
}

async function main(): Promise<number> {
  let exitCode = 0;
  await yargs(hideBin(process.argv))
    .scriptName('cli.js')
    .strict()
    .middleware(refuseRepeatedFlags, true)
    .command(
      'doctor',
      'show the adapter and check every kernel against the CPU reference',
      (y) => y.option('adapter', adapterOption).option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
      async (args) => {
        const report = await doctor(args.adapter);
        if (args.json) console.log(JSON.stringify(report));
        else printReport(report);
        exitCode = report.ok ? 0 : 1;
      },
    )
    .command(
      'info',
      'parameters and FLOPs of a model configuration',
      (y) =>
        y
          .option('model', modelOption)
          .option('num-classes', { type: 'string', default: '2', coerce: positiveInteger('num-classes') })
          .option('freeze_layers', { type: 'string', default: 'true', coerce: parseBoolean('freeze_layers'), describe: 'count only fc as trainable' })
          .option('img-size', { type: 'string', default: '224', coerce: positiveInteger('img-size') })
          .option('json', { type: 'boolean', default: false }),
      (args) => {
        const result = info(width(args.model), args['num-classes'], args.freeze_layers as unknown as boolean, args['img-size']);
        if (args.json) console.log(JSON.stringify(result));
        else printInfo(result, args['img-size']);
      },
    )
    .command(
      'predict <images..>',
      'classify images with a training run (--run) or a checkpoint (--weights)',
      (y) =>
        modelSourceOptions(y.positional('images', { type: 'string', array: true, demandOption: true }))
          .option('adapter', adapterOption)
          .option('json', { type: 'boolean', default: false }),
      async (args) => {
        const source = resolveModelSource(args);
        const results = await predictFiles(args.images as string[], { ...source, adapter: args.adapter }, (file, message) => {
          console.error(`skipped ${file}: ${message}`);
          exitCode = 1;
        });
        if (args.json) console.log(JSON.stringify(results));
        else for (const r of results) console.log(`${r.file}: ${r.class} (${(r.probabilities[r.index] * 100).toFixed(1)}%)`);
      },
    )
    .command(
      'evaluate',
      'metrics of a trained model on a labelled test set (ImageFolder), with a confusion matrix and a predictions CSV',
      evaluateOptions,
      async (args) => {
        const evaluation = await evaluate(args);
        if (args.json) console.log(JSON.stringify(evaluation));
        else printEvaluation(evaluation);
      },
    )
    .command('export', 'a trained model as ONNX, safetensors or a .pth state dict', exportOptions, async (args) => {
      console.log(`wrote ${await exportModel(args)}`);
    })
    .command('train', 'fine-tune ShuffleNet V2 on an ImageFolder dataset', trainOptions, async (args) => {
      await trainCommand(args);
    })
    .command('serve', 'the inference page in a browser: a local web server for a run (--run) or a checkpoint (--weights)', serveOptions, async (args) => {
      await serveCommand(args);
    })
    .demandCommand(1, 'name a command')
    .fail((message, error, y) => {
      if (error) throw error;
      y.showHelp();
      console.error(`\n${message}`);
      exitCode = 2;
    })
    .help()
    .parseAsync();
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(process.env.DEBUG ? error.stack : `error: ${error.message}`);
    process.exit(error.name === 'NoAdapterError' ? 3 : 1);
  },
);
