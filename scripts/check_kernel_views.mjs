#!/usr/bin/env node
// Fails when a kernel in src/kernels spells out a strided offset by hand instead of going through
// the accessors of its views (view.ts: `xBase(n, c)`, `xAt(base, h, w)`), or builds its WGSL without
// memoKernel (src/gpu/context.ts). It reads each kernel file's text (comments left out) and flags:
//   - an operand offset read directly: `P.xOff`, `P.out_off`, `P.${name}Off` (only view.ts writes these);
//   - a stride of one of the file's own views read directly: `P.xN` where the file declares
//     `view('x', ...)` (for a view named by a template, `view(\`in${i}\`, ...)`, any `P.in${...}...`);
//   - a product with a stride-named uniform: `* P.xN`, `* P.aRow`, `* P.in0_s3` (a lower-case operand
//     name, then N, C, H, W, Row, Col, Batch, Stride or an `_s`/`_k` suffix);
//   - a file that declares `@compute` but never calls memoKernel (a `*_common.ts` building block that
//     writes an entry point for the kernels that use it is not a kernel: those kernels call memoKernel).
// Usage: node scripts/check_kernel_views.mjs [dir]   (default src/kernels; part of `npm run lint`)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const KERNELS = process.argv[2] ?? 'src/kernels';

/** The one file that writes offsets and strides: the accessors' generator. */
const GENERATOR = 'view.ts';

const NAME = String.raw`(?:\w|\$\{[^}]*\})+`;
const UNIFORM = new RegExp(String.raw`P\.(${NAME})`, 'g');
const STRIDE_PRODUCT = /\*\s*P\.([a-z](?:\w|\$\{[^}]*\})*?(?:N|C|H|W|Row|Col|Batch|Stride|_s\w*|_k\w*))\b/g;
const VIEW_NAME = /\bview\(\s*(['"`])([^'"`]+)\1/g;

/** The text without `//` comments (header notes may show the offsets being replaced). */
function code(text) {
  return text
    .split('\n')
    .map((line) => line.replace(/(^|[^:])\/\/.*$/, '$1'))
    .join('\n');
}

/** A regex matching a uniform field that starts with view `name` (template holes match any name part). */
function viewPrefix(name) {
  const parts = name.split(/(\$\{[^}]*\})/).map((p) => (p.startsWith('${') ? String.raw`(?:\$\{[^}]*\}|\w+?)` : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(String.raw`^${parts.join('')}(?:[A-Z_]|\$\{)`);
}

function problems(file, text) {
  const src = code(text);
  const found = [];
  const views = [...src.matchAll(VIEW_NAME)].map((m) => m[2]);
  const prefixes = views.map((v) => ({ view: v, re: viewPrefix(v) }));
  for (const m of src.matchAll(UNIFORM)) {
    const field = m[1];
    const line = src.slice(0, m.index).split('\n').length;
    if (/(?:Off|_off)$/.test(field)) found.push(`${file}:${line}: offset read by hand: P.${field} (use the view's ${'<name>'}Base accessor)`);
    else {
      const own = prefixes.find((p) => p.re.test(field));
      if (own) found.push(`${file}:${line}: a stride of view '${own.view}' read by hand: P.${field} (use its accessors)`);
    }
  }
  for (const m of src.matchAll(STRIDE_PRODUCT)) {
    const line = src.slice(0, m.index).split('\n').length;
    found.push(`${file}:${line}: strided offset term spelled out: * P.${m[1]} (declare the operand with view(...))`);
  }
  if (src.includes('@compute') && !src.includes('memoKernel(') && !file.endsWith('_common.ts')) found.push(`${file}: builds a kernel without memoKernel`);
  return [...new Set(found)];
}

const failures = [];
let checked = 0;
for (const file of readdirSync(KERNELS)
  .filter((f) => f.endsWith('.ts'))
  .sort()) {
  if (file === GENERATOR) continue;
  checked++;
  failures.push(...problems(file, readFileSync(join(KERNELS, file), 'utf8')));
}
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`no strided offset spelled out by hand in ${KERNELS} (${checked} files)`);
