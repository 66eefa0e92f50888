#!/usr/bin/env node
// Fails when the run-time imports of src/ or bench/ form a cycle, or when a file of src/ imports
// from a folder above its own in LAYERS (imports point down). Type-only imports (`import type`, or
// every name marked `type`) are left out: TypeScript erases them, and an interface pair such as the
// tensor and its backend naming each other is no load-order hazard.
// Usage: node scripts/check_imports.mjs [dir...]   (default: src bench)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const IMPORT = /(?:^|\n)\s*((?:import|export)\s[^;'"]*?)from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Whether an import or export clause (the text before `from`) brings in types only. */
function typeOnly(clause) {
  if (/^(?:import|export)\s+type\s/.test(clause)) return true;
  const names = clause.match(/\{([^}]*)\}/);
  if (names === null || /^(?:import|export)\s+[\w$]+\s*,/.test(clause) || /\*/.test(clause)) return false;
  return names[1]
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
    .every((n) => n.startsWith('type '));
}

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Maps a specifier to the .ts file it names: relative './x.js' and the bench's '#engine/x' (src/x.ts). */
function resolveImport(from, spec, root) {
  let path;
  if (spec.startsWith('.')) path = resolve(dirname(from), spec);
  else if (spec.startsWith('#engine/')) path = resolve(root, 'src', spec.slice('#engine/'.length));
  else return undefined;
  return `${path.replace(/\.js$/, '')}.ts`;
}

/** The folders of src/, lowest first: a file may import from its own folder and the ones before it. */
const LAYERS = ['util', 'gpu', 'reference', 'kernels', 'backends', 'autograd', 'model', 'data', 'train', 'web', 'commands', 'api'];
/** Imports allowed upwards: the backends hold tensors (the tensor and its storage are their data type). */
const UPWARD = new Set(['src/backends -> src/autograd/tensor.ts']);

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const dirs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['src', 'bench'];
const graph = new Map();
for (const dir of dirs) {
  for (const file of sourceFiles(resolve(root, dir))) {
    const text = readFileSync(file, 'utf8');
    const edges = [];
    for (const m of text.matchAll(IMPORT)) {
      if (m[1] !== undefined && typeOnly(m[1])) continue;
      const target = resolveImport(file, m[2] ?? m[3], root);
      if (target !== undefined) edges.push(target);
    }
    graph.set(file, edges);
  }
}

/** The layer a file of src/ belongs to (its top folder), or undefined (src/*.ts entries, bench, test). */
function layerOf(file) {
  const parts = relative(resolve(root, 'src'), file).split('/');
  return parts.length > 1 && !parts[0].startsWith('..') ? parts[0] : undefined;
}
const upward = [];
for (const [file, edges] of graph) {
  const from = layerOf(file);
  if (from === undefined) continue;
  for (const target of edges) {
    const to = layerOf(target);
    if (to === undefined || to === from || UPWARD.has(`src/${from} -> ${relative(root, target)}`)) continue;
    const name = relative(root, file);
    if (!LAYERS.includes(from) || !LAYERS.includes(to)) upward.push(`${name}: src/${LAYERS.includes(from) ? to : from} is not in LAYERS`);
    else if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) upward.push(`${name} imports ${relative(root, target)} (src/${to} is above src/${from})`);
  }
}

// Depth-first search; a back edge to a file on the current path closes a cycle.
const state = new Map(); // 1: on the path, 2: done
const path = [];
const cycles = [];
function visit(file) {
  state.set(file, 1);
  path.push(file);
  for (const next of graph.get(file) ?? []) {
    if (!graph.has(next)) continue;
    if (state.get(next) === 1) cycles.push([...path.slice(path.indexOf(next)), next]);
    else if (state.get(next) === undefined) visit(next);
  }
  path.pop();
  state.set(file, 2);
}
for (const file of graph.keys()) if (state.get(file) === undefined) visit(file);

for (const cycle of cycles) console.error(`import cycle: ${cycle.map((f) => relative(root, f)).join(' -> ')}`);
if (cycles.length > 0) console.error(`${cycles.length} import cycle(s) in ${dirs.join(', ')}: move the shared part into a file both can import.`);
for (const line of upward) console.error(`upward import: ${line}`);
if (upward.length > 0) console.error(`${upward.length} upward import(s): layers, lowest first: ${LAYERS.join(', ')} (scripts/check_imports.mjs).`);
if (cycles.length > 0 || upward.length > 0) process.exit(1);
console.log(`no import cycle in ${dirs.join(', ')}, no upward import in src (${graph.size} files)`);
