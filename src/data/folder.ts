// ImageFolder, as torchvision: <root>/<class>/<image>, classes sorted by folder name give the
// indices; each class folder is walked with its subfolders (as os.walk(followlinks=True) does, folders
// in sorted order, files sorted in each), and files with an image extension are the samples. What is
// not a folder at the class level (a file, a dangling or looping symbolic link) is ignored, as
// torchvision ignores it; a folder already walked (a symbolic link loop) is not walked again; names
// starting with '.' (.ipynb_checkpoints, .Trash) are skipped. Problems (a missing or empty folder, a
// class without images) are errors that name the folder.

import { createHash } from 'node:crypto';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
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

/** Whether `path` is a folder, following symbolic links; false for a dangling or looping link. */
function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The image files under `dir` and its subfolders, in torchvision's order (folders sorted by path, then files by name). */
function imagesUnder(dir: string, what: string): string[] {
  const folders: [path: string, images: string[]][] = [];
  const walked = new Set<string>();
  const walk = (path: string) => {
    const real = realpathSync(path);
    if (walked.has(real)) return;
    walked.add(real);
    const entries = listDir(path, what).filter((name) => !name.startsWith('.'));
    const images: string[] = [];
    for (const name of entries) {
      const child = join(path, name);
      if (isFolder(child)) walk(child);
      else if (IMAGE_EXTENSIONS.includes(extname(name).toLowerCase())) images.push(child);
    }
    folders.push([path, images]);
  };
  walk(dir);
  return folders.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([, images]) => images);
}

/** Scans `root`; `flag` names the command-line option it came from, for messages. */
export function imageFolder(root: string, flag: string): ImageFolder {
  const classes = listDir(root, `${flag}:`).filter((name) => !name.startsWith('.') && isFolder(join(root, name)));
  if (classes.length === 0) throw new DatasetError(`${flag}: ${root} has no class folders (expected ${root}/<class>/<image>)`);
  const samples: Sample[] = [];
  classes.forEach((name, label) => {
    const dir = join(root, name);
    const files = imagesUnder(dir, `${flag}: class folder`);
    if (files.length === 0) throw new DatasetError(`${flag}: class '${name}' (${dir}) has no images (${IMAGE_EXTENSIONS.join(' ')})`);
    for (const file of files) samples.push({ file, label });
  });
  return { root, classes, samples };
}

/** What identifies a dataset's contents cheaply: the number of files and a hash of every file's path (relative to the root), class and size. */
export interface DatasetFingerprint {
  files: number;
  sha256: string;
}

export function datasetFingerprint(folder: ImageFolder): DatasetFingerprint {
  const hash = createHash('sha256');
  for (const s of folder.samples) {
    let size = -1;
    try {
      size = statSync(s.file).size;
    } catch {
      // A file that cannot be read counts with size -1: it is left out of the run, and still part of what the run saw.
    }
    hash.update(`${relative(folder.root, s.file)}\t${folder.classes[s.label]}\t${size}\n`);
  }
  return { files: folder.samples.length, sha256: hash.digest('hex') };
}
