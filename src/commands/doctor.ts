// `doctor`: which adapter the engine runs on, its limits, the device profile the kernels are tuned by
// (SHUFFLENET_PROFILE forces one), and every kernel with its backward pass checked against the CPU
// reference on small random shapes.

import type { Backend } from '../backends/backend.js';
import { CpuBackend } from '../backends/cpu.js';
import { initBackend } from '../autograd/default_backend.js';
import { allChecks, type CheckResult, compareCheck } from '../autograd/selfcheck.js';
import { GpuBackend } from '../backends/gpu.js';
import type { ProfileName } from '../gpu/profile.js';

const LIMITS = [
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
] as const;

export interface DoctorReport {
  adapter: Record<string, string | number | boolean>;
  /** The device profile in use; null on the CPU reference. */
  profile: ProfileName | null;
  checks: CheckResult[];
  ok: boolean;
}

export async function doctor(adapterFilter: string | undefined): Promise<DoctorReport> {
  const backend: Backend = await initBackend(adapterFilter);
  const adapter: DoctorReport['adapter'] =
    backend instanceof GpuBackend
      ? { ...backend.adapter, ...Object.fromEntries(LIMITS.map((l) => [l, backend.gpu.limits[l]])) }
      : { description: 'CPU reference (plain TypeScript)', device: 'cpu', vendor: '', architecture: '', backend: 'cpu', featureLevel: 'core' };
  // On the CPU the float32 reference is checked against the float64 one.
  const reference = backend instanceof CpuBackend ? new CpuBackend('float64') : new CpuBackend();
  const checks: CheckResult[] = [];
  for (const check of allChecks()) checks.push(await compareCheck(check, backend, reference));
  const profile = backend instanceof GpuBackend ? backend.gpu.profile.name : null;
  return { adapter, profile, checks, ok: checks.every((c) => c.ok) };
}

export function printReport(report: DoctorReport): void {
  const a = report.adapter;
  console.log(`adapter: ${a.description}${a.device ? ` (${a.device})` : ''}`);
  console.log(`  vendor: ${a.vendor || '-'}  architecture: ${a.architecture || '-'}  backend: ${a.backend}  feature level: ${a.featureLevel}`);
  for (const limit of LIMITS) if (a[limit] !== undefined) console.log(`  ${limit}: ${a[limit]}`);
  if (report.profile) console.log(`profile: ${report.profile}${process.env.SHUFFLENET_PROFILE ? ' (forced by SHUFFLENET_PROFILE)' : ''}`);
  const width = Math.max(...report.checks.map((c) => c.name.length));
  for (const c of report.checks) {
    console.log(
      `${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(width)}  max abs error ${c.maxAbsError.toExponential(1)}${c.error ? `  ${c.error.split('\n')[0]}` : ''}`,
    );
  }
  const failed = report.checks.filter((c) => !c.ok).length;
  console.log(failed === 0 ? `all ${report.checks.length} checks passed` : `${failed} of ${report.checks.length} checks FAILED`);
}
