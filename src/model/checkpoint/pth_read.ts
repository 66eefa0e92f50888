// Reads PyTorch .pth checkpoints in both formats torch.save has written:
//   zip (torch >= 1.6): <folder>/data.pkl, one <folder>/data/<key> entry per storage, <folder>/version;
//   legacy (torch < 1.6): pickles of the magic number, the protocol version, system info, the object,
//   the storage keys, then each storage's element count (int64) and raw bytes, in the keys' order.

import { unpickle, type PickleHooks, type PyValue } from './pickle.js';
import { detectFormat, unrecognized } from './sniff.js';
import { findTensors, materialize, TorchHooks } from './torch_objects.js';
import { CheckpointError, elementSize, namedError, plainBytes, type StateDict } from './types.js';
import { readZipDirectory, readZipEntry } from './zip_read.js';

const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

async function readZipPth(bytes: Uint8Array): Promise<StateDict> {
  const entries = readZipDirectory(bytes);
  const pickleName = [...entries.keys()].find((name) => name === 'data.pkl' || name.endsWith('/data.pkl'));
  if (!pickleName) throw new CheckpointError('a zip archive without a data.pkl entry, so not a PyTorch checkpoint');
  const folder = pickleName.slice(0, -'data.pkl'.length);
  if (entries.has(`${folder}constants.pkl`)) {
    throw new CheckpointError('a TorchScript archive (torch.jit.save); load it in Python and save model.state_dict() instead');
  }
  const byteOrder = entries.get(`${folder}byteorder`);
  if (byteOrder && new TextDecoder().decode(await readZipEntry(bytes, byteOrder)) !== 'little') {
    throw new CheckpointError('big-endian checkpoints are not supported');
  }
  const hooks = new TorchHooks();
  const root = unpickle(await readZipEntry(bytes, entries.get(pickleName)!), 0, hooks).value;
  const tensors = findTensors(root);
  const storageBytes = new Map<string, Uint8Array>();
  for (const { storage } of tensors.values()) {
    if (storageBytes.has(storage.key)) continue;
    const entryName = `${folder}data/${storage.key}`;
    const entry = entries.get(entryName);
    if (!entry) throw new CheckpointError(`zip entry '${entryName}' is missing (it holds storage '${storage.key}')`);
    storageBytes.set(storage.key, await readZipEntry(bytes, entry));
  }
  return materialize(tensors, storageBytes);
}

/** Hooks for the header pickles, which hold plain values only. */
const PLAIN: PickleHooks = {
  persistentLoad: () => {
    throw new CheckpointError('unexpected persistent id in a legacy checkpoint header');
  },
  call: () => undefined,
};

function readLegacyPth(bytes: Uint8Array): StateDict {
  const magic = unpickle(bytes, 0, PLAIN);
  if (magic.value !== MAGIC_NUMBER) throw new CheckpointError('a Python pickle, but not a PyTorch checkpoint (no PyTorch magic number)');
  const protocol = unpickle(bytes, magic.end, PLAIN);
  if (protocol.value !== PROTOCOL_VERSION) throw new CheckpointError(`unsupported legacy protocol version ${String(protocol.value)}`);
  const sysInfo = unpickle(bytes, protocol.end, PLAIN);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new CheckpointError('big-endian checkpoints are not supported');
  }
  const hooks = new TorchHooks();
  const object = unpickle(bytes, sysInfo.end, hooks);
  const keys = unpickle(bytes, object.end, PLAIN);
  if (!Array.isArray(keys.value)) throw new CheckpointError('the list of storage keys is missing');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storageBytes = new Map<string, Uint8Array>();
  let at = keys.end;
  for (const key of keys.value as PyValue[]) {
    const storage = hooks.storages.get(String(key));
    const unsupported = hooks.unsupported.get(String(key));
    if (unsupported) throw new CheckpointError(`storage '${String(key)}' has unsupported type ${unsupported}, so its data cannot be skipped`);
    if (!storage) throw new CheckpointError(`storage '${String(key)}' is listed but no tensor uses it`);
    const truncated = (): CheckpointError =>
      new CheckpointError(`truncated: the file ends inside the data of storage '${storage.key}' (it stops at byte ${bytes.length})`);
    if (at + 8 > bytes.length) throw truncated();
    const count = Number(view.getBigInt64(at, true));
    if (count < 0) throw new CheckpointError(`storage '${storage.key}' has a negative element count`);
    const length = count * elementSize(storage.dtype);
    if (at + 8 + length > bytes.length) throw truncated();
    storageBytes.set(storage.key, bytes.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  return materialize(findTensors(object.value), storageBytes);
}

/** Reads a PyTorch checkpoint of either format; `name` (a file name) prefixes error messages. */
export async function readPth(bytes: Uint8Array, name = 'checkpoint'): Promise<StateDict> {
  try {
    return await readPthUnnamed(plainBytes(bytes));
  } catch (error) {
    throw namedError(name, error);
  }
}

export async function readPthUnnamed(bytes: Uint8Array): Promise<StateDict> {
  const format = detectFormat(bytes);
  if (format === 'zip') return readZipPth(bytes);
  if (format === 'legacy') return readLegacyPth(bytes);
  if (format === 'safetensors') throw new CheckpointError('a safetensors file, not a .pth checkpoint (use readSafetensors or readCheckpoint)');
  throw unrecognized(bytes);
}
