// Axis ranges and tick marks for the curve plots: "nice" 1-2-5 steps, a padded value range, a log
// scale when positive values span three or more decades, integer epoch ticks, and tick labels that
// switch to a compact scientific form (5e-4, 1.2e6) for very small or very large values.

export interface Tick {
  value: number;
  label: string;
}

export interface Axis {
  min: number;
  max: number;
  log: boolean;
  ticks: Tick[];
}

/** Whether a value is drawn: NaN, infinities and magnitudes beyond 1e300 count as missing. */
export function isPlottable(value: number): boolean {
  return Number.isFinite(value) && Math.abs(value) <= 1e300;
}

/** Where a value lies on the axis: 0 at min, 1 at max. */
export function axisFraction(axis: Axis, value: number): number {
  if (axis.log) return (Math.log10(value) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min));
  return (value - axis.min) / (axis.max - axis.min);
}

/** The smallest step of the form {1, 2, 5} × 10^k that is at least `rough`. */
export function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough * (1 - 1e-9));
  return step ?? 10 * power;
}

/** Multiples of the finest nice step that puts at most maxTicks of them inside [min, max]. */
export function linearTicks(min: number, max: number, maxTicks: number): number[] {
  const values = (s: number): number[] => {
    const out: number[] = [];
    for (let k = Math.ceil(min / s - 1e-9); k <= Math.floor(max / s + 1e-9); k++) out.push(clean(k * s));
    return out;
  };
  let step = niceStep((max - min) / (2 * maxTicks));
  while (values(step).length > maxTicks) step = niceStep(step * 1.5);
  return values(step);
}

/** Removes floating-point dust such as 0.30000000000000004. */
function clean(v: number): number {
  return Number(v.toPrecision(12));
}

/**
 * A tick label: plain decimals with as many places as the step needs, or mantissa-exponent form
 * ("5e-4", "1.5e-3", "2e6") when the axis's largest magnitude is below 0.01 or at least 1e5.
 */
export function formatTick(value: number, step: number, largest: number): string {
  if (value === 0) return '0';
  if (largest < 1e-2 || largest >= 1e5) {
    let exponent = Math.floor(Math.log10(Math.abs(value)) + 1e-9);
    const digits = Math.min(3, Math.max(0, exponent - Math.floor(Math.log10(step) + 1e-9)));
    let mantissa = (value / 10 ** exponent).toFixed(digits);
    if (Math.abs(Number(mantissa)) >= 10) {
      exponent++;
      mantissa = (value / 10 ** exponent).toFixed(digits);
    }
    return `${trimZeros(mantissa)}e${exponent}`;
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

function powerLabel(exponent: number): string {
  return exponent >= -2 && exponent <= 3 ? String(clean(10 ** exponent)) : `1e${exponent}`;
}

/**
 * The y axis for the plottable values of a set: the data range padded by 6% on both
 * sides, widened around a constant, on a log scale when all values are positive and span 1000× or
 * more; [0, 1] when there is no finite value.
 */
export function valueAxis(values: readonly number[], maxTicks: number): Axis {
  const finite = values.filter(isPlottable);
  let lo = finite.length > 0 ? Math.min(...finite) : 0;
  let hi = finite.length > 0 ? Math.max(...finite) : 1;
  if (lo > 0 && hi / lo >= 1e3) {
    const pad = (Math.log10(hi) - Math.log10(lo)) * 0.06;
    const first = Math.log10(lo) - pad;
    const last = Math.log10(hi) + pad;
    const exponents: number[] = [];
    for (let e = Math.ceil(first); e <= Math.floor(last); e++) exponents.push(e);
    const every = Math.ceil(exponents.length / maxTicks);
    const ticks = exponents.filter((e) => e % every === 0).map((e) => ({ value: 10 ** e, label: powerLabel(e) }));
    return { min: 10 ** first, max: 10 ** last, log: true, ticks };
  }
  if (hi === lo) {
    const widen = lo === 0 ? 1 : Math.abs(lo) * 0.2;
    lo -= widen;
    hi += widen;
  }
  const pad = (hi - lo) * 0.06;
  const min = lo - pad;
  const max = hi + pad;
  const tickValues = linearTicks(min, max, maxTicks);
  const step = tickValues.length > 1 ? tickValues[1] - tickValues[0] : niceStep((max - min) / maxTicks);
  const largest = Math.max(Math.abs(min), Math.abs(max));
  return { min, max, log: false, ticks: tickValues.map((value) => ({ value, label: formatTick(value, step, largest) })) };
}

/**
 * The x axis for epochs 0..count-1: half an epoch (or 3% of the run) of room at either end, and ticks
 * at whole epochs, every 1, 2, 5, 10, 20, 50... epochs so that at most maxTicks are shown.
 */
export function epochAxis(count: number, maxTicks: number): Axis {
  const pad = Math.max(0.5, (count - 1) * 0.03);
  let step = 1;
  while (Math.floor(count / step) > maxTicks) step = niceStep(step * 1.5);
  const ticks: Tick[] = [];
  for (let epoch = 0; epoch < count; epoch += step) ticks.push({ value: epoch, label: String(epoch) });
  return { min: -pad, max: count - 1 + pad, log: false, ticks };
}
