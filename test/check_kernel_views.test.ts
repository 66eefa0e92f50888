// The lint rule that no kernel spells out a strided offset by hand (scripts/check_kernel_views.mjs),
// run on a copy of src/kernels: it passes on the tree as it is, and fails on a converted kernel that
// goes back to hand-written offsets or strides, and on one built without memoKernel.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = 'scripts/check_kernel_views.mjs';

/** Rewrites a file with `edit`, which must change it. */
function rewrite(path: string, edit: (text: string) => string): void {
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  expect(after, `the edit of ${path} changed nothing`).not.toBe(before);
  writeFileSync(path, after);
}

/** Runs the check on a copy of src/kernels with `file` rewritten by `edit`. */
function checkWith(file: string, edit: (text: string) => string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kernel-views-'));
  try {
    const kernels = join(dir, 'kernels');
    cpSync('src/kernels', kernels, { recursive: true });
    rewrite(join(kernels, file), edit);
    const r = spawnSync(process.execPath, [SCRIPT, kernels], { encoding: 'utf8' });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('lint: no strided offset spelled out by hand in src/kernels', () => {
  it('passes on the kernels as they are', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/no strided offset spelled out by hand/);
    expect(r.status).toBe(0);
  });

  it('fails on an offset read by hand', () => {
    const r = checkWith('sgd.ts', (t) => t.replace('param[paramAt(params, i)] = p', 'param[P.paramOff + i] = p'));
    expect(r.output).toMatch(/sgd\.ts:\d+: offset read by hand: P\.paramOff/);
    expect(r.status).toBe(1);
    const epilogue = checkWith('conv_common.ts', (t) => t.replace('scale[scaleAt(scaleBase(), ', 'scale[P.scaleOff + ('));
    expect(epilogue.output).toMatch(/conv_common\.ts:\d+: offset read by hand: P\.scaleOff/);
    expect(epilogue.status).toBe(1);
  });

  it("fails on a view's stride read by hand, also for a view named by a template", () => {
    const logits = checkWith('cross_entropy.ts', (t) => t.replace('logits[logitsAt(row, k)]', 'logits[row + k * P.logitsK]'));
    expect(logits.output).toMatch(/cross_entropy\.ts:\d+: a stride of view 'logits' read by hand: P\.logitsK/);
    expect(logits.status).toBe(1);
    const inputs = checkWith('reduce_common.ts', (t) =>
      t.replace(`in\${i}[in\${i}At(base\${i}, u, v)]`, `in\${i}[base\${i} + u * P.in\${i}U + v * P.in\${i}V]`),
    );
    expect(inputs.output).toMatch(/reduce_common\.ts:\d+: a stride of view 'in\$\{i\}' read by hand: P\.in\$\{i\}U/);
    expect(inputs.status).toBe(1);
  });

  it('fails on a product with a stride-named uniform and on a kernel without memoKernel', () => {
    const product = checkWith('elementwise.ts', (t) => t.replace("'      out[outAt(baseOut, i)] = y;'", "'      out[baseOut + i * P.out_s3] = y;'"));
    expect(product.output).toMatch(/elementwise\.ts:\d+: strided offset term spelled out: \* P\.out_s3/);
    expect(product.status).toBe(1);
    const unmemoised = checkWith('adam.ts', (t) => t.replace("memoKernel('adam', ", '(').replace(', memoKernel }', ' }'));
    expect(unmemoised.output).toMatch(/adam\.ts: builds a kernel without memoKernel/);
    expect(unmemoised.status).toBe(1);
  });
});
