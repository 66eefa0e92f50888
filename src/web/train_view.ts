// The Train view (part of page.js): a folder chosen or dropped, settings by `train`'s flag names,
// training in a Web Worker (train-worker.js) with a live progress bar, curves, the per-epoch metrics
// table and the best epoch's confusion matrix, downloads of best.pth, last.pth and the whole run as
// a zip, then classification with the model just trained. Bad input gets one clear message and the
// page carries on; what was trained before a failure stays downloadable.

import { chosenFolder, type EpochReport, folderData, type FolderFile, parseSettings, type ProgressEvent, runZip, SettingsError, type Width } from './engine.js';
import type { FromWorker, ToWorker } from './train/messages.js';

export interface TrainedModel {
  weights: Uint8Array;
  weightsName: string;
  width: Width;
  classNames: string[];
  imgSize: number;
}

type State = 'idle' | 'running' | 'done' | 'error';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Told every state change, so the page's own status follows a run. */
let onState: (state: State) => void = () => {};

function setStatus(state: State, text: string, epoch?: number): void {
  onState(state);
  const status = $('train-status');
  status.dataset.state = state;
  if (epoch !== undefined) status.dataset.epoch = String(epoch);
  status.textContent = text;
}

const clock = (seconds: number) =>
  Number.isFinite(seconds) ? `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(Math.floor(seconds % 60)).padStart(2, '0')}` : '--:--';

function showProgress(e: ProgressEvent): void {
  const fraction = e.total > 0 ? Math.min(e.done / e.total, 1) : 1;
  $('progress-fill').style.width = `${(fraction * 100).toFixed(1)}%`;
  const rate = e.done / Math.max(e.elapsed, 1e-9);
  const time = e.final ? `took ${clock(e.elapsed)}` : `ETA ${clock((e.total - e.done) / rate)}`;
  $('progress-text').textContent = `${e.label}: ${e.done}/${e.total} · ${rate.toFixed(1)} img/s · ${time}${e.extra ? ` · ${e.extra}` : ''}`;
}

/** Loss (left) and accuracy (right) per epoch, train and val. */
function drawCurves(reports: EpochReport[]): void {
  const canvas = $<HTMLCanvasElement>('curves');
  const g = canvas.getContext('2d')!;
  g.clearRect(0, 0, canvas.width, canvas.height);
  const panels: { title: string; series: [string, string, number[]][] }[] = [
    {
      title: 'loss',
      series: [
        ['train', '#2459d6', reports.map((r) => r.train.loss)],
        ['val', '#d97706', reports.map((r) => r.val.loss)],
      ],
    },
    {
      title: 'accuracy',
      series: [
        ['train', '#2459d6', reports.map((r) => r.train.accuracy)],
        ['val', '#d97706', reports.map((r) => r.val.accuracy)],
      ],
    },
  ];
  const width = canvas.width / 2;
  panels.forEach((panel, p) => {
    const left = p * width + 44;
    const right = (p + 1) * width - 14;
    const top = 28;
    const bottom = canvas.height - 30;
    const values = panel.series.flatMap(([, , v]) => v);
    const lo = panel.title === 'accuracy' ? 0 : Math.min(0, ...values);
    const hi = panel.title === 'accuracy' ? 1 : Math.max(1e-6, ...values) * 1.1;
    const x = (i: number) => left + (reports.length > 1 ? (i / (reports.length - 1)) * (right - left) : (right - left) / 2);
    const y = (v: number) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
    g.font = '12px system-ui, sans-serif';
    g.fillStyle = '#17202c';
    g.fillText(panel.title, left, 16);
    g.strokeStyle = '#e3e8ef';
    g.fillStyle = '#667085';
    for (let k = 0; k <= 4; k++) {
      const v = lo + ((hi - lo) * k) / 4;
      g.beginPath();
      g.moveTo(left, y(v));
      g.lineTo(right, y(v));
      g.stroke();
      g.fillText(v.toFixed(2), left - 38, y(v) + 4);
    }
    reports.forEach((r, i) => g.fillText(String(r.epoch), x(i) - 3, bottom + 16));
    panel.series.forEach(([name, colour, v], s) => {
      g.strokeStyle = colour;
      g.fillStyle = colour;
      g.lineWidth = 2;
      g.beginPath();
      v.forEach((value, i) => (i === 0 ? g.moveTo(x(i), y(value)) : g.lineTo(x(i), y(value))));
      g.stroke();
      for (const [i, value] of v.entries()) g.fillRect(x(i) - 2, y(value) - 2, 4, 4);
      g.fillText(name, right - 70 + s * 36, 16);
      g.lineWidth = 1;
    });
  });
}

function cell(tag: 'td' | 'th', text: string): HTMLElement {
  const c = document.createElement(tag);
  c.textContent = text;
  return c;
}

function showMetrics(reports: EpochReport[]): void {
  const best = reports.at(-1)?.best.epoch;
  $('metrics')
    .querySelector('tbody')!
    .replaceChildren(
      ...reports.map((r) => {
        const row = document.createElement('tr');
        if (r.epoch === best) row.className = 'best';
        row.append(
          ...[
            String(r.epoch),
            r.lr.toExponential(2),
            r.train.loss.toFixed(4),
            r.train.accuracy.toFixed(4),
            r.val.loss.toFixed(4),
            r.val.accuracy.toFixed(4),
            r.val['mean f1 score'].toFixed(4),
            r.val['balanced accuracy'].toFixed(4),
            r.seconds.toFixed(1),
          ].map((t) => cell('td', t)),
        );
        return row;
      }),
    );
  $('best-epoch').textContent = best === undefined ? '' : `best epoch ${best}`;
}

function showConfusion(matrix: number[][], classes: string[]): void {
  const head = document.createElement('tr');
  head.append(cell('th', 'true \\ predicted'), ...classes.map((c) => cell('th', c)));
  const rows = matrix.map((counts, k) => {
    const total = counts.reduce((a, b) => a + b, 0);
    const row = document.createElement('tr');
    row.append(cell('th', classes[k]), ...counts.map((n) => cell('td', `${n} (${total > 0 ? ((100 * n) / total).toFixed(0) : 0}%)`)));
    return row;
  });
  $('confusion').replaceChildren(head, ...rows);
}

/** Every file below the dropped folders: one folder dropped stands for the chosen folder itself. */
async function droppedFolder(items: DataTransferItemList): Promise<FolderFile[]> {
  const entries = [...items].map((item) => item.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  const files: FolderFile[] = [];
  const walk = async (entry: FileSystemEntry, path: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      files.push({ path, file });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, path ? `${path}/${child.name}` : child.name);
    }
  };
  const single = entries.length === 1 && entries[0].isDirectory;
  for (const entry of entries) await walk(entry, single ? '' : entry.name);
  return files;
}

export function initTrainView(hooks: { onModel(model: TrainedModel): Promise<void>; onState?(state: State): void }): void {
  if (hooks.onState) onState = hooks.onState;
  let folder: FolderFile[] | null = null;
  let worker: Worker | null = null;
  let reports: EpochReport[] = [];
  let files = new Map<string, Uint8Array>();
  let run: { width: Width; imgSize: number; epochs: number; classes: string[] } | null = null;
  const form = $<HTMLFormElement>('train-form');
  const log = (line: string) => {
    const pre = $('train-log');
    pre.textContent += `${line}\n`;
    pre.scrollTop = pre.scrollHeight;
  };

  const valFraction = () => {
    const value = (form.elements.namedItem('val-split') as HTMLInputElement).value;
    const n = Number(value);
    if (value === '' || !(n > 0 && n < 1)) throw new SettingsError(`val-split must be a fraction between 0 and 1, not '${value}'`);
    return n;
  };
  const seed = () => Number((form.elements.namedItem('seed') as HTMLInputElement).value) || 0;

  /** The folder's classes and counts (or what is wrong with it), shown as soon as it is chosen. */
  const describeFolder = () => {
    if (!folder) return;
    const summary = $('folder-summary');
    try {
      const { data, leftOut, layout } = folderData(folder, valFraction(), seed());
      const count = (samples: { label: number }[], k: number) => samples.filter((s) => s.label === k).length;
      const lines = data.classes.map((c, k) => `${c}: ${count(data.train.samples, k)} training, ${count(data.val.samples, k)} validation`);
      summary.textContent = `${data.classes.length} classes (${layout === 'train/val' ? 'train/ and val/' : `class folders, ${valFraction()} split off for validation`})\n${lines.join('\n')}`;
      summary.classList.remove('bad');
      $('left-out').replaceChildren(
        ...leftOut.map((f) => {
          const item = document.createElement('li');
          item.textContent = `left out: ${f.message}`;
          return item;
        }),
      );
      if (!worker) setStatus('idle', 'Ready to train.');
    } catch (e) {
      summary.textContent = (e as Error).message;
      summary.classList.add('bad');
      $('left-out').replaceChildren();
      if (!worker) setStatus('error', `The folder cannot be trained on: ${(e as Error).message}`);
    }
  };

  const chooseFolder = (chosen: FolderFile[]) => {
    folder = chosen;
    describeFolder();
  };
  const input = $<HTMLInputElement>('train-folder');
  input.addEventListener('change', () => input.files && chooseFolder(chosenFolder(input.files)));
  const drop = $('folder-drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer)
      droppedFolder(e.dataTransfer.items).then(chooseFolder, (err: Error) => setStatus('error', `Could not read the dropped folder: ${err.message}`));
  });
  form.addEventListener('change', describeFolder);

  const updateDownloads = () => {
    const link = (id: string, bytes: Uint8Array | undefined) => {
      const a = $<HTMLAnchorElement>(id);
      if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
      a.hidden = !bytes;
      if (bytes) a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
    };
    link('download-best', files.get('weights/best.pth'));
    link('download-last', files.get('weights/last.pth'));
    link('download-run', files.size > 0 ? runZip(files) : undefined);
    $('use-model').hidden = !files.has('weights/best.pth') || worker !== null;
  };

  const finish = () => {
    worker?.terminate();
    worker = null;
    $<HTMLButtonElement>('train-stop').disabled = true;
    updateDownloads();
  };

  const onMessage = (m: FromWorker) => {
    if (m.type === 'adapter') $('train-adapter').textContent = `adapter: ${m.name}`;
    else if (m.type === 'log') log(m.line);
    else if (m.type === 'progress') showProgress(m.event);
    else if (m.type === 'file') files.set(m.name, m.data);
    else if (m.type === 'epoch') {
      reports.push(m.report);
      drawCurves(reports);
      showMetrics(reports);
      showConfusion(m.report.best.valConfusion, run!.classes);
      setStatus('running', `Epoch ${m.report.epoch + 1} of ${run!.epochs} done; training…`, m.report.epoch);
      updateDownloads();
    } else if (m.type === 'done') {
      const last = reports.at(-1)?.epoch ?? -1;
      finish();
      setStatus(
        'done',
        m.stopped
          ? `Stopped; ${last + 1} epoch${last === 0 ? '' : 's'} completed, their results below.`
          : `Done: ${last + 1} epochs, best epoch ${reports.at(-1)?.best.epoch}.`,
        last,
      );
    } else if (m.type === 'error') {
      finish();
      const kept = files.has('weights/last.pth') ? ' What was trained up to the last completed epoch can still be downloaded.' : '';
      const advice = {
        input: 'Check the folder and the settings, then start again.',
        'no-webgpu': 'Training needs WebGPU: use a recent Chrome or Edge with hardware acceleration on (chrome://flags/#enable-unsafe-webgpu on Linux).',
        gpu: 'The GPU failed mid-run (device lost or out of memory): try a smaller batch-size or img-size, or reload the page.',
        other: 'The page keeps working: change something and start again.',
      }[m.kind];
      setStatus('error', `Training failed: ${m.message}. ${advice}${kept}`);
    }
  };

  $('train-start').addEventListener('click', () => {
    if (worker) {
      setStatus('running', 'A run is already under way: stop it first, or wait for it to end.');
      return;
    }
    if (!folder) {
      setStatus('error', 'Choose a folder of images first (train/<class>/… and val/<class>/…, or class folders alone).');
      return;
    }
    const values: Record<string, unknown> = {};
    for (const [key, value] of new FormData(form)) if (typeof value === 'string' && key !== 'val-split') values[key] = value;
    const weightsFile = (form.elements.namedItem('weights') as HTMLInputElement).files?.[0] ?? null;
    let fraction: number;
    try {
      const settings = parseSettings(values);
      fraction = valFraction();
      const { data } = folderData(folder, fraction, settings.seed);
      run = { width: settings.model, imgSize: settings['img-size'], epochs: settings.epochs, classes: data.classes };
    } catch (e) {
      setStatus('error', `Cannot start: ${(e as Error).message}`);
      return;
    }
    reports = [];
    files = new Map();
    updateDownloads();
    drawCurves([]);
    showMetrics([]);
    $('confusion').replaceChildren();
    $('train-log').textContent = '';
    worker = new Worker(new URL('train-worker.js', document.baseURI), { type: 'module' });
    worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
    worker.onerror = (e) => onMessage({ type: 'error', kind: 'other', message: `the training worker failed: ${e.message || 'it could not be started'}` });
    const start: ToWorker = {
      type: 'start',
      folder,
      settings: values,
      weights: weightsFile ? { name: weightsFile.name, file: weightsFile } : null,
      valFraction: fraction,
    };
    worker.postMessage(start);
    $<HTMLButtonElement>('train-stop').disabled = false;
    setStatus('running', `Starting: ${run.epochs} epochs at ${run.imgSize}×${run.imgSize}…`, -1);
  });

  $('train-stop').addEventListener('click', () => {
    if (!worker) return;
    const stop: ToWorker = { type: 'stop' };
    worker.postMessage(stop);
    setStatus('running', 'Stopping after the step under way…');
  });

  $('use-model').addEventListener('click', () => {
    const weights = files.get('weights/best.pth');
    if (!weights || !run) return;
    hooks
      .onModel({ weights, weightsName: 'best.pth (trained here)', width: run.width, classNames: run.classes, imgSize: run.imgSize })
      .catch((e: Error) => setStatus('error', `Could not classify with the trained model: ${e.message}`));
  });
  drawCurves([]);
}
