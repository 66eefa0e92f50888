// Placeholder replaced by the guidelines benchmark.
import type { BenchContext } from './context.js';

export async function guidelines(_ctx: BenchContext): Promise<Record<string, unknown>> {
  return {};
}

export function printGuidelines(_result: Record<string, unknown>): void {}
