// A data-loading worker thread: decodes and transforms the samples the loader sends it.

import { parentPort, workerData } from 'node:worker_threads';
import { readImageFile } from './read_image.js';
import { ImageCache, runTask, type SampleTask } from './sample.js';

const cache = new ImageCache((workerData as { cacheBytes: number }).cacheBytes, readImageFile);

parentPort!.on('message', async (task: SampleTask) => {
  const result = await runTask(task, cache);
  parentPort!.postMessage(result, 'data' in result && result.data.length > 0 ? [result.data.buffer as ArrayBuffer] : []);
});
