// The dataset's shared types, browser-safe: a sample (a file and its class index), an ImageFolder
// (classes sorted by name give the indices), the error that names a dataset problem, and the
// per-class counts. How a folder is found (disk in Node, File objects in a page) is the caller's.

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
