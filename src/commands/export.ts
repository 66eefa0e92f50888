// `export`: a trained model in another format: ONNX (opset 13, dynamic batch axis, batch norms
// folded; for ONNX Runtime and other ONNX tools), safetensors or a torchvision .pth state dict. The
// checkpoint is loaded strictly into the model first (on the CPU reference: no GPU needed), so a
// mismatch is reported before anything is written.

import { extname } from 'node:path';
import type { Argv } from 'yargs';
import { CpuBackend } from '../backends/cpu.js';
import { setBackend } from '../autograd/default_backend.js';
import { writePth, writeSafetensors } from '../model/checkpoint/index.js';
import { toOnnx } from '../model/onnx.js';
import { ShuffleNetV2 } from '../model/shufflenet.js';
import { stateDict } from '../model/state.js';
import { loadWeightsFile } from '../model/weights_file.js';
import { writeAtomic } from '../train/files.js';
import { modelSourceOptions, resolveModelSource } from './model_source.js';

export const EXPORT_FORMATS = ['onnx', 'safetensors', 'pth'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function exportOptions(y: Argv) {
  return modelSourceOptions(y)
    .option('format', { type: 'string', choices: EXPORT_FORMATS, describe: "output format (default: --out's extension)" })
    .option('out', { type: 'string', describe: 'output file (default: the weights file with the format as extension)' });
}

type ExportArgs = Awaited<ReturnType<ReturnType<typeof exportOptions>['parseAsync']>>;

function chooseFormat(format: string | undefined, out: string | undefined): ExportFormat {
  const fromOut = out !== undefined ? extname(out).slice(1).toLowerCase() : undefined;
  if (format !== undefined) {
    if (fromOut !== undefined && fromOut !== format && (EXPORT_FORMATS as readonly string[]).includes(fromOut)) {
      throw new Error(`--format ${format} and --out ${out} disagree: give the file the .${format} extension or leave out --format`);
    }
    return format as ExportFormat;
  }
  if (fromOut !== undefined && (EXPORT_FORMATS as readonly string[]).includes(fromOut)) return fromOut as ExportFormat;
  throw new Error(`name the format: --format ${EXPORT_FORMATS.join('|')} (or an --out file ending in .onnx, .safetensors or .pth)`);
}

/** Writes the export; returns the file written. */
export async function exportModel(a: ExportArgs): Promise<string> {
  const format = chooseFormat(a.format, a.out);
  const source = resolveModelSource(a);
  const out = a.out ?? `${source.weights.slice(0, source.weights.length - extname(source.weights).length)}.${format}`;
  if (out === source.weights) throw new Error(`--out ${out} is the weights file itself: choose another file`);
  setBackend(new CpuBackend());
  const model = new ShuffleNetV2(source.width, source.numClasses);
  await loadWeightsFile(model, source.weights);
  model.eval();
  const bytes =
    format === 'onnx'
      ? await toOnnx(model, source.imgSize)
      : format === 'safetensors'
        ? writeSafetensors(await stateDict(model))
        : writePth(await stateDict(model));
  writeAtomic(out, bytes);
  return out;
}
