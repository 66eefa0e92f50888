// `training`: what a training loop needs on every platform: the seeded stratified split, the
// confusion matrix and the seed's metrics (per class Precision, Recall, Specificity, F1, their means,
// balanced accuracy). The Node trainer itself (folders, worker threads) is `node.train`.

export { stratifiedSplit } from '../data/split.js';
export { perClassMetrics, type ClassMetrics, type ConfusionMatrix, confusionMatrix, epochMetrics, type EpochMetrics } from '../train/metrics.js';
