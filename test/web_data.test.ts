// The Train view's data source on its own (no browser needed): a chosen folder's files give the
// samples Node's ImageFolder gives for the same folder, in the same order; class folders alone are
// split by the seeded stratified split; non-images, empty classes and mismatched classes are named.
// The settings take the CLI's defaults and name a bad value.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageFolder } from '../src/data/folder.js';
import { stratifiedSplit } from '../src/data/split.js';
import { folderData, type FolderFile } from '../src/web/train/data.js';
import { configFromArgs } from '../src/commands/train.js';
import type { TrainConfig } from '../src/train/core.js';
import { DEFAULT_SETTINGS, parseSettings, trainConfig } from '../src/web/train/settings.js';

const UDTN = new URL('../../shared/datasets/udtn-sample/', import.meta.url).pathname;

/** Every file below `root` as the page gets it from a chosen folder: the path below the folder and a Blob. */
function chosen(root: string): FolderFile[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  // Shuffled, as a browser may list them in any order.
  return walk(root)
    .reverse()
    .map((file) => ({ path: relative(root, file), file: new Blob([readFileSync(file)]) }));
}

const text = (path: string): FolderFile => ({ path, file: new Blob(['not an image']) });

describe('the Train view data source', () => {
  it("gives the samples and classes of Node's ImageFolder for train/ and val/, in the same order", () => {
    const { data, leftOut, layout, files } = folderData(chosen(UDTN), 0.2, 0);
    expect(layout).toBe('train/val');
    for (const split of ['train', 'val'] as const) {
      const node = imageFolder(join(UDTN, split), `--data_${split}`);
      expect(data.classes).toEqual(node.classes);
      expect(data[split].samples).toEqual(node.samples.map((s) => ({ file: relative(UDTN, s.file), label: s.label })));
    }
    expect(leftOut.map((f) => f.file).sort()).toEqual(['smalltest/0', 'smalltest/1'].flatMap((d) => readdirSync(join(UDTN, d)).map((f) => `${d}/${f}`)).sort());
    expect(files.size).toBe(data.train.samples.length + data.val.samples.length);
  });

  it('splits class folders alone by the seeded stratified split', () => {
    const folder = chosen(join(UDTN, 'train'));
    const { data, layout } = folderData(folder, 0.3, 5);
    expect(layout).toBe('split');
    const all = imageFolder(join(UDTN, 'train'), 'x').samples.map((s) => ({ file: relative(join(UDTN, 'train'), s.file), label: s.label }));
    expect({ train: data.train.samples, val: data.val.samples }).toEqual(stratifiedSplit(all, 0.3, 5));
    // 7 per class: round(2.1) = 2 of each class to validation.
    expect(data.val.samples.map((s) => s.label).sort()).toEqual([0, 0, 1, 1]);
  });

  it('names what is not an image and leaves it out; names an empty class and classes that differ', () => {
    const base = chosen(join(UDTN, 'train')).filter((f) => f.path.startsWith('0/') || f.path.startsWith('1/'));
    const { leftOut, data } = folderData([...base, text('1/notes.txt'), text('README.md'), text('0/deeper/x.png'), text('.DS_Store')], 0.2, 0);
    expect(leftOut.map((f) => f.message)).toEqual([
      '1/notes.txt: not an image file (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp)',
      'README.md: not inside a class folder (expected <class>/<image>)',
      '0/deeper/x.png: not inside a class folder (expected <class>/<image>)',
    ]);
    expect(data.train.samples.length + data.val.samples.length).toBe(14);
    expect(() => folderData([...base, text('2/notes.txt')], 0.2, 0)).toThrow("the class '2' has no images");
    const splits = chosen(UDTN).filter((f) => !f.path.startsWith('val/1/') && !f.path.startsWith('smalltest/'));
    expect(() => folderData(splits, 0.2, 0)).toThrow('train/ and val/ have different classes: train has [0, 1], val has [0]');
    expect(() =>
      folderData(
        chosen(UDTN).filter((f) => f.path.startsWith('train/')),
        0.2,
        0,
      ),
    ).toThrow('train/ but no val/');
    expect(() => folderData([], 0.2, 0)).toThrow('the chosen folder is empty');
  });
});

describe('the Train view settings', () => {
  it("take the CLI's defaults and name a bad value", () => {
    expect(parseSettings({})).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings({ epochs: '2', 'img-size': '64', augment: 'false', optim: 'AdamW' })).toMatchObject({
      epochs: 2,
      'img-size': 64,
      augment: false,
      optim: 'AdamW',
      'batch-size': 8,
      lr: 0.01,
    });
    expect(() => parseSettings({ epochs: '0' })).toThrow("epochs must be a whole number of at least 1, not '0'");
    expect(() => parseSettings({ lr: 'fast' })).toThrow("lr must be a positive number, not 'fast'");
    expect(() => parseSettings({ balanced: 'maybe' })).toThrow("balanced takes true or false, not 'maybe'");
    expect(() => parseSettings({ model: 'x3_0' })).toThrow("model must be one of x0_5, x1_0, x1_5, x2_0, not 'x3_0'");
  });

  it('give the loop what `train` gives it for the same flags', () => {
    // Where the page has no say (no hub weights, no folders on disk, no worker threads), it differs on purpose.
    const own = ['pretrained', 'save_ret', 'data_train', 'data_val', 'val_split', 'weights', 'workers', 'adapter'];
    const common = (c: TrainConfig) => Object.fromEntries(Object.entries(c).filter(([key]) => !own.includes(key)));
    for (const flags of [{}, { optim: 'AdamW', lr: '0.003', 'batch-size': '4', freeze_layers: 'false', seed: '7', balanced: 'true' }]) {
      const page = trainConfig(parseSettings(flags), { train: 'train', val: 'val' }, null);
      expect(common(page)).toEqual(common(configFromArgs({ ...flags, workers: '0' } as Parameters<typeof configFromArgs>[0])));
    }
  });
});
