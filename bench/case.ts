// One timed kernel case of the kernel benchmark: what it runs (setup returns the dispatch to time)
// and the work it does, for the GFLOP/s or GB/s column.

export interface KernelCase {
  kernel: string;
  shape: string;
  batch: number;
  flops?: number;
  bytes?: number;
  setup: () => () => void;
}
