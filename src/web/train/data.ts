// The Train view's data source: a chosen folder as a list of files with their paths inside it,
// laid out as train/<class>/<image> and val/<class>/<image>, or as <class>/<image> alone (then split
// into training and validation by stratifiedSplit). Classes are the class folders sorted by name and
// the images of a class are sorted by name, as Node's ImageFolder does, so the same folder gives the
// same samples in both places. What is not an image in a class folder is left out and listed.

import { type Sample, DatasetError, IMAGE_EXTENSIONS } from '../../data/dataset.js';
import { stratifiedSplit } from '../../data/split.js';
import type { TrainingData } from '../../train/core.js';

/** One file of the chosen folder: its path below the folder ('train/0/a.png') and its contents. */
export interface FolderFile {
  path: string;
  file: Blob;
}

export interface FolderData {
  data: TrainingData;
  /** Sample file -> its contents. */
  files: Map<string, Blob>;
  /** Files left out before reading, with why. */
  leftOut: { file: string; message: string }[];
  /** How the validation set came about, for the run's data_val. */
  layout: 'train/val' | 'split';
}

const extension = (name: string) => (name.includes('.') ? name.slice(name.lastIndexOf('.')).toLowerCase() : '');

/** The files of an `<input type=file webkitdirectory>` (their webkitRelativePath starts with the chosen folder's name), as paths below that folder. */
export function chosenFolder(files: Iterable<File>): FolderFile[] {
  return [...files].map((file) => ({ path: (file.webkitRelativePath || file.name).split('/').slice(1).join('/') || file.name, file }));
}

/** Class folders -> sorted image files, from paths `<class>/<file>`; everything else goes to leftOut. */
function classFolders(files: FolderFile[], where: string, leftOut: FolderData['leftOut']): Map<string, FolderFile[]> {
  const classes = new Map<string, FolderFile[]>();
  for (const f of files) {
    const parts = f.path.split('/');
    const name = parts.at(-1)!;
    if (parts.length !== 2) {
      if (!name.startsWith('.'))
        leftOut.push({ file: `${where}${f.path}`, message: `${where}${f.path}: not inside a class folder (expected ${where}<class>/<image>)` });
      continue;
    }
    if (parts[0].startsWith('.')) continue;
    const members = classes.get(parts[0]) ?? [];
    classes.set(parts[0], members);
    if (name.startsWith('.')) continue;
    if (!IMAGE_EXTENSIONS.includes(extension(name))) {
      leftOut.push({ file: `${where}${f.path}`, message: `${where}${f.path}: not an image file (${IMAGE_EXTENSIONS.join(' ')})` });
      continue;
    }
    members.push({ path: `${where}${f.path}`, file: f.file });
  }
  return new Map([...classes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function samplesOf(classes: Map<string, FolderFile[]>, where: string, files: Map<string, Blob>): Sample[] {
  const samples: Sample[] = [];
  [...classes].forEach(([name, members], label) => {
    if (members.length === 0) throw new DatasetError(`${where}${name}/: the class '${name}' has no images (${IMAGE_EXTENSIONS.join(' ')})`);
    for (const m of [...members].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
      samples.push({ file: m.path, label });
      files.set(m.path, m.file);
    }
  });
  return samples;
}

/** The training data in a chosen folder; throws a DatasetError that says what is wrong with it. */
export function folderData(input: readonly FolderFile[], valFraction: number, seed: number): FolderData {
  const all = [...input];
  if (all.length === 0)
    throw new DatasetError('the chosen folder is empty: choose a folder of class folders (<class>/<image>), or one with train/<class>/... and val/<class>/...');
  const leftOut: FolderData['leftOut'] = [];
  const files = new Map<string, Blob>();
  const under = (split: string) => all.filter((f) => f.path.startsWith(`${split}/`)).map((f) => ({ path: f.path.slice(split.length + 1), file: f.file }));
  const [trainFiles, valFiles] = [under('train'), under('val')];
  if (trainFiles.length > 0 || valFiles.length > 0) {
    if (trainFiles.length === 0 || valFiles.length === 0)
      throw new DatasetError(
        `the chosen folder has ${trainFiles.length === 0 ? 'val/ but no train/' : 'train/ but no val/'}: give it both, or only class folders (then validation is split off)`,
      );
    for (const f of all)
      if (!/^(train|val)\//.test(f.path) && !f.path.split('/').at(-1)!.startsWith('.'))
        leftOut.push({ file: f.path, message: `${f.path}: outside train/ and val/` });
    const trainClasses = classFolders(trainFiles, 'train/', leftOut);
    const valClasses = classFolders(valFiles, 'val/', leftOut);
    if (trainClasses.size === 0) throw new DatasetError('train/ has no class folders (expected train/<class>/<image>)');
    const names = { train: [...trainClasses.keys()], val: [...valClasses.keys()] };
    if (names.train.join('\n') !== names.val.join('\n'))
      throw new DatasetError(`train/ and val/ have different classes: train has [${names.train.join(', ')}], val has [${names.val.join(', ')}]`);
    const train = samplesOf(trainClasses, 'train/', files);
    const val = samplesOf(valClasses, 'val/', files);
    return {
      data: { classes: names.train, train: { name: 'train/', root: 'train', samples: train }, val: { name: 'val/', root: 'val', samples: val } },
      files,
      leftOut,
      layout: 'train/val',
    };
  }
  const classes = classFolders(all, '', leftOut);
  if (classes.size === 0) throw new DatasetError('the chosen folder has no class folders: expected <class>/<image>, or train/<class>/... and val/<class>/...');
  const samples = samplesOf(classes, '', files);
  const { train, val } = stratifiedSplit(samples, valFraction, seed);
  if (val.length === 0) throw new DatasetError(`a validation fraction of ${valFraction} leaves no validation images: add images or raise the fraction`);
  const names = [...classes.keys()];
  return {
    data: { classes: names, train: { name: 'training split', root: '.', samples: train }, val: { name: 'validation split', root: '.', samples: val } },
    files,
    leftOut,
    layout: 'split',
  };
}
