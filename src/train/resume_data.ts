// Resuming in Node: the data on disk checked against the fingerprints the run recorded.

import { DatasetError, type DatasetFingerprint, datasetFingerprint, type ImageFolder } from '../data/folder.js';

/**
 * Before a resumed run reads its data: the files must be those the run saw (same paths, classes and
 * sizes, as the fingerprints in train_info.json record them), else the continued run would not be
 * the run it continues. Runs made before the fingerprints were recorded are continued with a warning.
 */
export function checkResumeData(
  infoPath: string,
  info: unknown,
  now: Record<'train' | 'val', { flag: string; folder: ImageFolder }>,
  log: (line: string) => void,
): void {
  const recorded = (info as { dataset?: { fingerprint?: Record<string, DatasetFingerprint> } }).dataset?.fingerprint;
  if (!recorded) {
    log(`warning: ${infoPath} records no dataset fingerprint (a run made by an older version): the data cannot be checked against what the run saw`);
    return;
  }
  for (const split of ['train', 'val'] as const) {
    const { flag, folder } = now[split];
    const current = datasetFingerprint(folder);
    const before = recorded[split];
    if (before && before.sha256 !== current.sha256) {
      const count =
        before.files === current.files
          ? `still ${current.files} files, but some were renamed, moved between classes or changed size`
          : `${before.files} files then, ${current.files} now`;
      throw new DatasetError(`${flag} ${folder.root} has changed since the run started (${count}): restore the data the run saw, or start a new run`);
    }
  }
}
