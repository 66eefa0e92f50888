#!/usr/bin/env node
// Command-line entry: `node dist/cli.js <command>`. Errors are printed as one clear message; set
// DEBUG=1 for the stack trace.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { doctor, printReport } from './commands/doctor.js';

const adapterOption = {
  type: 'string',
  describe: "adapter to use: text matched against the adapter's vendor, architecture, device, description or backend (e.g. nvidia, llvmpipe, swiftshader), or 'cpu' for the CPU reference; default: $SHUFFLENET_ADAPTER, else the best found",
} as const;

async function main(): Promise<number> {
  let exitCode = 0;
  await yargs(hideBin(process.argv))
    .scriptName('cli.js')
    .strict()
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
