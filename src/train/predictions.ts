// The CSV of validation predictions: file,label,prediction,prob_<class>... with class names.

function csvField(value: string | number): string {
  const s = String(value);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export interface PredictionRow {
  file: string;
  label: number;
  probabilities: number[];
}

/** file,label,prediction,prob_<class>... with class names for label and prediction. */
export function predictionsCsv(rows: PredictionRow[], classNames: string[]): string {
  const header = ['file', 'label', 'prediction', ...classNames.map((c) => `prob_${c}`)];
  const lines = rows.map((r) => {
    const prediction = r.probabilities.indexOf(Math.max(...r.probabilities));
    return [r.file, classNames[r.label], classNames[prediction], ...r.probabilities.map((p) => p.toFixed(6))].map(csvField).join(',');
  });
  return `${[header.map(csvField).join(','), ...lines].join('\n')}\n`;
}
