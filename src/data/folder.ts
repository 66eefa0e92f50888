// ImageFolder, as torchvision: <root>/<class>/<image>, classes sorted by folder name give the
// indices, files with an image extension are the samples (sorted, so that runs are reproducible).
// Problems (a missing or empty folder, a class without images) are errors that name the folder.

import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { DatasetError, IMAGE_EXTENSIONS, type ImageFolder, type Sample } from './dataset.js';

export { classCounts, DatasetError, IMAGE_EXTENSIONS, type ImageFolder, type Sample } from './dataset.js';

function listDir(path: string, what: string): string[] {
  let entries: string[];
  try {
    if (!statSync(path).isDirectory()) throw new DatasetError(`${what} ${path} is not a folder`);
    entries = readdirSync(path);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`${what} ${path} does not exist or cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return entries.sort();
}

/** Scans `root`; `flag` names the command-line option it came from, for messages. */
export function imageFolder(root: string, flag: string): ImageFolder {
  const classes = listDir(root, `${flag}:`).filter((name) => !name.startsWith('.') && statSync(join(root, name)).isDirectory());
  if (classes.length === 0) throw new DatasetError(`${flag}: ${root} has no class folders (expected ${root}/<class>/<image>)`);
  const samples: Sample[] = [];
  classes.forEach((name, label) => {
    const dir = join(root, name);
    const files = listDir(dir, `${flag}: class folder`).filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()));
    if (files.length === 0) throw new DatasetError(`${flag}: class '${name}' (${dir}) has no images (${IMAGE_EXTENSIONS.join(' ')})`);
    for (const f of files) samples.push({ file: join(dir, f), label });
  });
  return { root, classes, samples };
}
