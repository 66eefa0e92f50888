// Classification metrics from a confusion matrix (rows: true class, columns: predicted class), with
// the seed's keys: per class Precision, Recall, Specificity, F1 score, their means, accuracy; plus the
// loss and balanced accuracy. A class that is never predicted (or never present) scores 0, not NaN.

export type ConfusionMatrix = number[][];

export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, classes: number): ConfusionMatrix {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predictions[i]]++;
  return m;
}

export interface ClassMetrics {
  Precision: number;
  Recall: number;
  Specificity: number;
  'F1 score': number;
}

export interface EpochMetrics {
  accuracy: number;
  loss: number;
  'balanced accuracy': number;
  'mean precision': number;
  'mean recall': number;
  'mean specificity': number;
  'mean f1 score': number;
  [className: string]: number | ClassMetrics;
}

const ratio = (num: number, den: number) => (den > 0 ? num / den : 0);
const round = (x: number) => Math.round(x * 1e4) / 1e4;

/** Every class's metrics, one vs rest, from the row sums, column sums and diagonal: O(k^2) for k classes. */
export function perClassMetrics(m: ConfusionMatrix): ClassMetrics[] {
  const k = m.length;
  const rows = new Array<number>(k).fill(0);
  const columns = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      rows[i] += m[i][j];
      columns[j] += m[i][j];
    }
  }
  const total = rows.reduce((a, b) => a + b, 0);
  return m.map((row, c) => {
    const tp = row[c];
    const fn = rows[c] - tp;
    const fp = columns[c] - tp;
    const tn = total - tp - fn - fp;
    const precision = ratio(tp, tp + fp);
    const recall = ratio(tp, tp + fn);
    return { Precision: precision, Recall: recall, Specificity: ratio(tn, tn + fp), 'F1 score': ratio(2 * precision * recall, precision + recall) };
  });
}

/** The seed's per-epoch metrics object (values rounded to 4 decimals); O(k^2) in the number of classes. */
export function epochMetrics(m: ConfusionMatrix, classNames: string[], loss: number): EpochMetrics {
  const perClass = perClassMetrics(m);
  let correct = 0;
  let total = 0;
  m.forEach((row, k) => {
    correct += row[k];
    for (const count of row) total += count;
  });
  const mean = (key: keyof ClassMetrics) => perClass.reduce((s, c) => s + c[key], 0) / perClass.length;
  const out: EpochMetrics = {
    accuracy: round(ratio(correct, total)),
    loss: round(loss),
    'balanced accuracy': round(mean('Recall')),
    'mean precision': round(mean('Precision')),
    'mean recall': round(mean('Recall')),
    'mean specificity': round(mean('Specificity')),
    'mean f1 score': round(mean('F1 score')),
  };
  classNames.forEach((name, k) => {
    const c = perClass[k];
    out[name] = { Precision: round(c.Precision), Recall: round(c.Recall), Specificity: round(c.Specificity), 'F1 score': round(c['F1 score']) };
  });
  return out;
}

export const BEST_METRICS = { accuracy: 'accuracy', f1: 'mean f1 score', balanced_accuracy: 'balanced accuracy' } as const;
export type BestMetric = keyof typeof BEST_METRICS;

/**
 * The mean softmax cross-entropy of a batch from its logits (row-major, `classes` a row), in float64:
 * the loss the trainer and `evaluate` report.
 */
export function meanCrossEntropy(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  let total = 0;
  for (let b = 0; b < labels.length; b++) {
    const label = labels[b];
    if (!(label >= 0 && label < classes)) throw new Error(`cross_entropy: label ${label} is outside [0, ${classes})`);
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[b * classes + k]);
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[b * classes + k] - max);
    total -= logits[b * classes + label] - max - Math.log(sum);
  }
  return total / labels.length;
}
