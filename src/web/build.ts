// Builds what the browser loads into dist/browser (run after tsc: `node dist/web/build.js`): esbuild
// bundles src/web/engine.ts into engine.js (the engine as one ES module) and src/web/page.ts into
// page.js, which imports './engine.js' at run time rather than carrying a second copy; index.html
// and style.css are copied. Not dist/web: tsc writes its own engine.js and page.js there (one module
// per source file), and a later `tsc` alone would overwrite the bundles.
// A Node built-in reached from the browser's import graph fails the build, except the device
// layer's dynamic import of node:fs on its Node-only path, which browsers never take.

import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { build, type Plugin } from 'esbuild';

const source = new URL('../../src/web/', import.meta.url);
const out = new URL('../browser/', import.meta.url);

/** The page's imports of './engine.js' stay imports of the engine bundle. */
const engineExternal: Plugin = {
  name: 'engine-external',
  setup(b) {
    const webDir = dirname(new URL('engine.ts', source).pathname);
    b.onResolve({ filter: /^\.\/engine\.js$/ }, (args) => (dirname(args.importer) === webDir ? { path: './engine.js', external: true } : undefined));
  },
};

const browserOnly: Plugin = {
  name: 'browser-only',
  setup(b) {
    b.onResolve({ filter: /^(node:|pngjs$|webgpu$)/ }, (args) => {
      if (args.path === 'node:fs' && args.kind === 'dynamic-import' && args.importer.endsWith('/src/gpu/device.ts')) return { path: args.path, external: true };
      return { errors: [{ text: `${args.importer} imports ${args.path}, which does not exist in browsers: keep Node-only modules out of src/web's import graph` }] };
    });
  },
};

async function bundle(entry: string, plugins: Plugin[]): Promise<void> {
  await build({
    entryPoints: [new URL(entry, source).pathname],
    outfile: new URL(entry.replace(/\.ts$/, '.js'), out).pathname,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    plugins,
    logLevel: 'warning',
  });
}

mkdirSync(out, { recursive: true });
await bundle('engine.ts', [browserOnly]);
await bundle('page.ts', [engineExternal, browserOnly]);
for (const file of ['index.html', 'style.css']) copyFileSync(new URL(file, source), new URL(file, out));
console.log(`browser bundle written to ${out.pathname}`);
