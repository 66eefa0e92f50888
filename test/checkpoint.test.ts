// Checkpoint reading and writing against fixtures made by torch 1.13 (scripts/fixtures/make_checkpoint_fixtures.py):
// every fixture read back exactly, write -> read round trips, the zip layout torch expects, and the errors.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  readCheckpoint,
  readPth,
  readSafetensors,
  toFloat32,
  writePth,
  writeSafetensors,
  type StateDict,
  type TensorData,
} from '../src/model/checkpoint/index.js';
import { readZipDirectory, readZipEntry } from '../src/model/checkpoint/zip_read.js';
import { writeZip } from '../src/model/checkpoint/zip_write.js';

const FIXTURES = new URL('./fixtures/checkpoint/', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIXTURES)));

interface ExpectedTensor {
  name: string;
  dtype: string;
  shape: number[];
  hex: string;
  float32_hex: string;
}
const expected: Record<string, { tensors: ExpectedTensor[]; metadata?: Record<string, string> }> = JSON.parse(
  readFileSync(new URL('expected.json', FIXTURES), 'utf8'),
);

const hex = (data: TensorData): string => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');

function expectTensors(sd: StateDict, tensors: ExpectedTensor[]): void {
  expect([...sd.keys()]).toEqual(tensors.map((t) => t.name));
  for (const want of tensors) {
    const got = sd.get(want.name)!;
    expect({ name: want.name, dtype: got.dtype, shape: got.shape }).toEqual({ name: want.name, dtype: want.dtype, shape: want.shape });
    expect(hex(got.data), want.name).toBe(want.hex);
    expect(hex(toFloat32(got)), `${want.name} as float32`).toBe(want.float32_hex);
  }
}

/** Bytes from opcodes (numbers) and text (one byte per character). */
function bytesOf(...parts: (number | string)[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : [p])));
}

/** A zip checkpoint whose data.pkl is `pickle`. */
const zipWithPickle = (pickle: Uint8Array): Uint8Array => writeZip([{ name: 'archive/data.pkl', data: pickle }]);

async function failure(read: Promise<unknown> | (() => unknown)): Promise<CheckpointError> {
  try {
    await (typeof read === 'function' ? read() : read);
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

/** CRC-32 bit by bit, independent of the table-driven one under test. */
function bitwiseCrc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

const ALL_DTYPES: StateDict = new Map([
  ['f32', { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1.5, -2, 3e-38, 1e30, -0, NaN]) }],
  ['f16', { dtype: 'float16', shape: [4], data: Uint16Array.from([0x3c00, 0x8000, 0x7c00, 0x0001]) }],
  ['bf16', { dtype: 'bfloat16', shape: [2, 1], data: Uint16Array.from([0x3f80, 0xc0a0]) }],
  ['f64', { dtype: 'float64', shape: [2], data: Float64Array.from([1 / 3, -1e300]) }],
  ['i64', { dtype: 'int64', shape: [3], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n]) }],
  ['i32', { dtype: 'int32', shape: [2], data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1]) }],
  ['i16', { dtype: 'int16', shape: [2], data: Int16Array.from([-32768, 32767]) }],
  ['i8', { dtype: 'int8', shape: [2], data: Int8Array.from([-128, 127]) }],
  ['u8', { dtype: 'uint8', shape: [3], data: Uint8Array.from([0, 128, 255]) }],
  ['flags', { dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) }],
  ['10', { dtype: 'float32', shape: [], data: Float32Array.of(2.5) }],
  ['empty', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }],
  ['view', { dtype: 'float32', shape: [2], data: new Float32Array(Float32Array.from([9, 8, 7]).buffer, 4, 2) }],
]);

function expectSameStateDict(got: StateDict, want: StateDict): void {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, t] of want) {
    const g = got.get(name)!;
    expect([g.dtype, g.shape, g.data.constructor.name], name).toEqual([t.dtype, t.shape, t.data.constructor.name]);
    expect(hex(g.data), name).toBe(hex(t.data));
  }
}

describe('reading torch-made fixtures', () => {
  for (const [file, want] of Object.entries(expected)) {
    it(`reads ${file} exactly`, async () => {
      const bytes = fixture(file);
      if (file.endsWith('.safetensors')) {
        const { tensors, metadata } = readSafetensors(bytes, file);
        expectTensors(tensors, want.tensors);
        expect(metadata).toEqual(want.metadata);
      } else {
        expectTensors(await readPth(bytes, file), want.tensors);
      }
      expectTensors(await readCheckpoint(bytes, file), want.tensors);
    });
  }

  it('finds the archive folder whatever its name, and inflates deflated entries', () => {
    const custom = [...readZipDirectory(fixture('zip_custom_folder.pth')).values()];
    expect(custom.every((e) => e.name.startsWith('zip_custom_folder/') && e.method === 0)).toBe(true);
    const deflated = [...readZipDirectory(fixture('deflated.pth')).values()];
    expect(deflated.every((e) => e.name.startsWith('renamed/') && e.method === 8)).toBe(true);
  });

  it('converts half-precision specials to float32', () => {
    const f16 = toFloat32({ dtype: 'float16', shape: [5], data: Uint16Array.from([0x0001, 0x8000, 0xfc00, 0x7e00, 0x3555]) });
    expect([...f16]).toEqual([2 ** -24, -0, -Infinity, NaN, Math.fround(0.333251953125)]);
    const bf16 = toFloat32({ dtype: 'bfloat16', shape: [2], data: Uint16Array.from([0xc0a0, 0x0001]) });
    expect([...bf16]).toEqual([-5, Math.fround(2 ** -133)]);
  });
});

describe('writing', () => {
  it('writes the very bytes torch.save writes for the same state dict', async () => {
    const original = fixture('torch_archive.pth');
    const rewritten = writePth(await readPth(original, 'torch_archive.pth'));
    expect(rewritten.length).toBe(original.length);
    expect(Buffer.from(rewritten).equals(Buffer.from(original))).toBe(true);
  });

  it('round-trips every dtype, 0-d and empty tensors through .pth', async () => {
    expectSameStateDict(await readPth(writePth(ALL_DTYPES)), ALL_DTYPES);
    expectSameStateDict(await readPth(writePth(new Map())), new Map());
  });

  it('round-trips every dtype and the metadata through safetensors', () => {
    const { tensors, metadata } = readSafetensors(writeSafetensors(ALL_DTYPES, { format: 'pt', 'a"b': 'ü' }));
    expectSameStateDict(tensors, ALL_DTYPES);
    expect(metadata).toEqual({ format: 'pt', 'a"b': 'ü' });
    expect(readSafetensors(writeSafetensors(new Map())).tensors.size).toBe(0);
  });

  it('pads the safetensors header with spaces to a multiple of 8', () => {
    const bytes = writeSafetensors(ALL_DTYPES);
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + length));
    expect(header.trimEnd().endsWith('}')).toBe(true);
    expect(JSON.parse(header).f16).toEqual({ dtype: 'F16', shape: [4], data_offsets: [24, 32] });
  });

  it('lays the zip out as torch does: 64-byte-aligned stored records with valid CRCs', () => {
    const zip = writePth(ALL_DTYPES);
    const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
    const end = zip.length - 22;
    expect(view.getUint32(end, true)).toBe(0x06054b50);
    const count = view.getUint16(end + 10, true);
    let at = view.getUint32(end + 16, true);
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      expect(view.getUint32(at, true)).toBe(0x02014b50);
      const crc = view.getUint32(at + 16, true);
      const size = view.getUint32(at + 24, true);
      const nameLength = view.getUint16(at + 28, true);
      const local = view.getUint32(at + 42, true);
      names.push(new TextDecoder().decode(zip.subarray(at + 46, at + 46 + nameLength)));
      expect(view.getUint32(at + 20, true)).toBe(size); // stored: compressed size = size
      expect(view.getUint32(local, true)).toBe(0x04034b50);
      expect(view.getUint16(local + 8, true)).toBe(0); // method: stored
      const extra = local + 30 + view.getUint16(local + 26, true);
      expect(String.fromCharCode(zip[extra], zip[extra + 1])).toBe('FB');
      const start = extra + view.getUint16(local + 28, true);
      expect(start % 64).toBe(0);
      expect(bitwiseCrc32(zip.subarray(start, start + size))).toBe(crc);
      if (size > 0) expect([0, 4, 8, 12].map((o) => view.getUint32(start + size + o, true))).toEqual([0x08074b50, crc, size, size]);
      at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    }
    const keys = [...ALL_DTYPES.keys()].map((_, i) => String(i)).sort();
    expect(names).toEqual(['archive/data.pkl', ...keys.map((k) => `archive/data/${k}`), 'archive/version']);
  });

  it('rejects tensors whose data does not fit their dtype or shape', async () => {
    const wrongType: StateDict = new Map([['w', { dtype: 'float16', shape: [2], data: Float32Array.of(1, 2) }]]);
    expect((await failure(() => writePth(wrongType))).message).toMatch(/'w'.*Uint16Array/);
    const wrongShape: StateDict = new Map([['w', { dtype: 'float32', shape: [3], data: Float32Array.of(1, 2) }]]);
    expect((await failure(() => writeSafetensors(wrongShape))).message).toMatch(/'w'.*3 elements.*2/);
  });
});

describe('errors', () => {
  it('says a PNG, a text file or random bytes are not checkpoints', async () => {
    const png = fixture('not_a_checkpoint.png');
    for (const read of [readCheckpoint(png, 'cat.png'), readPth(png, 'cat.png'), Promise.resolve().then(() => readSafetensors(png, 'cat.png'))]) {
      expect((await failure(read)).message).toMatch(/^cat\.png: not a PyTorch or safetensors checkpoint: it looks like a PNG image/);
    }
    const text = new TextEncoder().encode('epoch,loss\n1,0.5\n2,0.4\n');
    expect((await failure(readCheckpoint(text, 'log.csv'))).message).toMatch(/^log\.csv: .*text file.*epoch,loss/);
    let seed = 12345;
    const random = Uint8Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    expect((await failure(readCheckpoint(random, 'noise.bin'))).message).toMatch(/^noise\.bin: not a PyTorch .*unrecognized format/);
    expect((await failure(readCheckpoint(new Uint8Array(0), 'empty.pth'))).message).toMatch(/empty/);
  });

  it('says a zip, legacy or safetensors file is truncated', async () => {
    const zip = fixture('zip_custom_folder.pth');
    expect((await failure(readPth(zip.subarray(0, zip.length >> 1), 'a.pth'))).message).toMatch(/^a\.pth: truncated/);
    const legacy = fixture('legacy.pth');
    for (const cut of [300, legacy.length - 10, legacy.length - 1000]) {
      expect((await failure(readPth(legacy.subarray(0, cut), 'old.pth'))).message).toMatch(/^old\.pth: truncated/);
    }
    const safetensors = fixture('weights.safetensors');
    for (const cut of [safetensors.length - 3, 40]) {
      expect((await failure(readCheckpoint(safetensors.subarray(0, cut), 'w.safetensors'))).message).toMatch(/^w\.safetensors: truncated/);
    }
    expect((await failure(() => readSafetensors(safetensors.subarray(0, 5), 'w.safetensors'))).message).toMatch(/^w\.safetensors: truncated/);
  });

  it('names a missing zip entry and a corrupted one', async () => {
    const zip = fixture('zip_custom_folder.pth');
    const entries = readZipDirectory(zip);
    const kept = [];
    for (const entry of entries.values()) {
      if (entry.name !== 'zip_custom_folder/data/1') kept.push({ name: entry.name, data: await readZipEntry(zip, entry) });
    }
    expect((await failure(readPth(writeZip(kept), 'm.pth'))).message).toMatch(/zip entry 'zip_custom_folder\/data\/1' is missing/);
    const corrupted = zip.slice();
    corrupted[entries.get('zip_custom_folder/data/0')!.headerOffset + 100] ^= 1;
    expect((await failure(readPth(corrupted, 'c.pth'))).message).toMatch(/'zip_custom_folder\/data\/0' is corrupted/);
    const noPickle = writeZip([{ name: 'archive/readme.txt', data: new Uint8Array(3) }]);
    expect((await failure(readPth(noPickle))).message).toMatch(/no data\.pkl|without a data\.pkl/);
  });

  it('names unsupported and unknown pickle opcodes', async () => {
    expect((await failure(readPth(zipWithPickle(bytesOf(0x80, 2, 0x82, 1, '.'))))).message).toMatch(/unsupported pickle opcode EXT1 \(0x82\) at byte 2/);
    expect((await failure(readPth(zipWithPickle(bytesOf(0x80, 2, 0xff, '.'))))).message).toMatch(/unknown pickle opcode 0xff/);
  });

  it('builds placeholders for unknown classes, and fails only where a tensor is needed', async () => {
    const module = bytesOf(0x80, 2, 'c__main__\nNet\n)', 0x81, '}b.');
    expect((await failure(readPth(zipWithPickle(module)))).message).toMatch(/pickled __main__\.Net object, not a state dict/);
    const key = (name: string): (number | string)[] => ['X', name.length, 0, 0, 0, name];
    const tensorOn = (...storage: (number | string)[]): (number | string)[] => [
      'ctorch._utils\n_rebuild_tensor_v2\n(',
      ...storage,
      'K',
      0,
      'K',
      1,
      0x85,
      'K',
      1,
      0x85,
      0x89,
      'tR',
    ];
    const fakeStorage = tensorOn('cfoo\nBar\n)R');
    const complexStorage = tensorOn('(', ...key('storage'), 'ctorch\nComplexFloatStorage\n', ...key('0'), ...key('cpu'), 'K', 1, 'tQ');
    const stateDict = (...tensor: (number | string)[]): Uint8Array => bytesOf(0x80, 2, '}', ...key('w'), ...tensor, 's.');
    expect((await failure(readPth(zipWithPickle(stateDict(...fakeStorage))))).message).toMatch(
      /tensor 'w' cannot be read: its storage is a foo\.Bar object, not a storage/,
    );
    expect((await failure(readPth(zipWithPickle(stateDict(...complexStorage))))).message).toMatch(
      /tensor 'w' cannot be read: its storage type torch\.ComplexFloatStorage is not supported/,
    );
    const elsewhere = bytesOf(0x80, 2, '}(', ...key('state_dict'), '}', ...key('opt'), ...fakeStorage, ...key('x'), ...complexStorage, 'u.');
    expect((await readPth(zipWithPickle(elsewhere))).size).toBe(0);
  });

  it('says which .pth reader to use for a safetensors file and the other way round', async () => {
    expect((await failure(readPth(fixture('weights.safetensors')))).message).toMatch(/safetensors file, not a \.pth/);
    expect((await failure(() => readSafetensors(fixture('legacy.pth')))).message).toMatch(/\.pth checkpoint, not a safetensors/);
  });
});
