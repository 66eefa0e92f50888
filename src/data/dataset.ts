// The dataset's shared types, browser-safe: a sample (a file and its class index), an ImageFolder
// (classes sorted by name give the indices), the error that names a dataset problem, and the
// per-class counts and the checks on classes that hold wherever the data come from. How a folder is found (disk in Node, File objects in a page) is the caller's.

/** The file extensions torchvision's ImageFolder takes as images. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

export interface Sample {
  file: string;
  label: number;
}

export interface ImageFolder {
  root: string;
  classes: string[];
  samples: Sample[];
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** Per class, how many samples. */
export function classCounts(folder: ImageFolder): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(folder.classes.map((c) => [c, 0]));
  for (const s of folder.samples) counts[folder.classes[s.label]]++;
  return counts;
}

/** A classifier needs two classes: with one, the loss is always 0 and every metric 1. `flag` names the data in the message. */
export function checkClassCount(data: { root: string; classes: string[] }, flag: string): void {
  if (data.classes.length < 2) {
    throw new DatasetError(
      `${flag}: ${data.root} has one class folder (${data.classes[0]}); a classifier needs at least two classes (${data.root}/<class>/<image>)`,
    );
  }
}

/** The classes none of whose samples are among `readable` (every one failed to decode). */
export function classesWithout(classes: string[], readable: Sample[]): string[] {
  const seen = new Set(readable.map((s) => s.label));
  return classes.filter((_, label) => !seen.has(label));
}
