// Round trip for the Python check in scripts/fixtures/make_checkpoint_fixtures.py: reads every
// <stem>.src.pth that torch wrote into a folder and writes it back as <stem>.ts.pth (writePth) and
// <stem>.ts.safetensors (writeSafetensors, metadata {source: <file name>}), for torch to verify.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPth, writePth, writeSafetensors } from '../../src/model/checkpoint/index.js';

/** The stems written. */
export async function roundTripFolder(folder: string): Promise<string[]> {
  const stems: string[] = [];
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.src.pth')).sort()) {
    const stem = file.slice(0, -'.src.pth'.length);
    const sd = await readPth(new Uint8Array(readFileSync(join(folder, file))), file);
    writeFileSync(join(folder, `${stem}.ts.pth`), writePth(sd));
    writeFileSync(join(folder, `${stem}.ts.safetensors`), writeSafetensors(sd, { source: file }));
    stems.push(stem);
  }
  return stems;
}
