// Metrics against confusion matrices worked out by hand, the reported loss against the CPU
// reference's cross-entropy, and the learning-rate schedule.

import { describe, expect, it } from 'vitest';
import { crossEntropy } from '../src/reference/nn.js';
import { confusionMatrix, epochMetrics, meanCrossEntropy } from '../src/train/metrics.js';
import { learningRate } from '../src/train/trainer.js';

describe('metrics', () => {
  it('counts a confusion matrix with rows = true class', () => {
    expect(confusionMatrix([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2], 3)).toEqual([
      [1, 1, 0],
      [1, 2, 0],
      [0, 0, 1],
    ]);
  });

  it('computes per-class precision, recall, specificity and F1 as worked out by hand', () => {
    // 2 classes: TP(1) = 30, FN(1) = 10, FP(1) = 5, TN(1) = 55.
    const m = epochMetrics(
      [
        [55, 5],
        [10, 30],
      ],
      ['benign', 'malignant'],
      0.4,
    );
    expect(m.malignant).toEqual({ Precision: 0.8571, Recall: 0.75, Specificity: 0.9167, 'F1 score': 0.8 });
    expect(m.benign).toEqual({ Precision: 0.8462, Recall: 0.9167, Specificity: 0.75, 'F1 score': 0.88 });
    expect(m.accuracy).toBe(0.85);
    expect(m['balanced accuracy']).toBe(0.8333);
    expect(m['mean f1 score']).toBe(0.84);
    expect(m.loss).toBe(0.4);
  });

  it('gives 0, not NaN, for a class that is never predicted or never present', () => {
    const m = epochMetrics(
      [
        [6, 0, 0],
        [3, 0, 0],
        [0, 0, 0],
      ],
      ['a', 'b', 'c'],
      1,
    );
    expect(m.b).toEqual({ Precision: 0, Recall: 0, Specificity: 1, 'F1 score': 0 });
    expect(m.c).toEqual({ Precision: 0, Recall: 0, Specificity: 1, 'F1 score': 0 });
    expect(m.a).toEqual({ Precision: 0.6667, Recall: 1, Specificity: 0, 'F1 score': 0.8 });
    expect(JSON.stringify(m)).not.toContain('null');
  });
});

describe('loss from logits', () => {
  it("equals the CPU reference's cross-entropy, large logits and a batch of one included", () => {
    const logits = Float32Array.from({ length: 5 * 3 }, (_, i) => Math.sin(i * 1.7) * (i % 4 === 0 ? 80 : 3));
    const labels = Int32Array.from([2, 0, 1, 1, 2]);
    expect(meanCrossEntropy(logits, labels, 3)).toBe(crossEntropy(Float64Array.from(logits), labels, 5, 3));
    expect(meanCrossEntropy([1, 2, 3, 4], [3], 4)).toBeCloseTo(-Math.log(Math.exp(4) / (Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4))), 12);
    expect(() => meanCrossEntropy([0, 0], [2], 2)).toThrow(/label 2 is outside \[0, 2\)/);
  });
});

describe('learning rate', () => {
  it("follows the seed's cosine from lr down towards lr * lrf", () => {
    const c = { lr: 0.01, lrf: 0.001, epochs: 10 };
    expect(learningRate(c, 0)).toBeCloseTo(0.01, 12);
    expect(learningRate(c, 5)).toBeCloseTo(0.01 * (0.5 * 0.999 + 0.001), 12);
    expect(learningRate(c, 9)).toBeCloseTo(0.01 * (((1 + Math.cos((Math.PI * 9) / 10)) / 2) * 0.999 + 0.001), 12);
  });
});
