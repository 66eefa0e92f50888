// Builds what the browser loads into dist/browser (run after tsc: `node dist/web/build.js`): esbuild
// bundles src/web/engine.ts into engine.js (the engine as one ES module), and src/web/page.ts into
// page.js and src/web/train/worker.ts into train-worker.js (the Train view's Web Worker), which
// import './engine.js' at run time rather than carrying a second copy; index.html and style.css are
// copied. pngjs becomes its browser build, with its Buffer (buffer_shim.ts). Not dist/web: tsc
// writes its own engine.js and page.js there (one module per source file), and a later `tsc` alone
// would overwrite the bundles.
// A Node built-in reached from the browser's import graph fails the build, except the device
// layer's dynamic import of node:fs on its Node-only path, which browsers never take.

import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build, type Plugin } from 'esbuild';

const source = new URL('../../src/web/', import.meta.url);
const out = new URL('../browser/', import.meta.url);

/** The page's imports of './engine.js' stay imports of the engine bundle. */
const engineExternal: Plugin = {
  name: 'engine-external',
  setup(b) {
    const engine = new URL('engine.ts', source).pathname;
    b.onResolve({ filter: /\/engine\.js$/ }, (args) =>
      join(dirname(args.importer), args.path.replace(/\.js$/, '.ts')) === engine ? { path: './engine.js', external: true } : undefined,
    );
  },
};

/** pngjs's own browser build (zlib and Buffer bundled in) instead of its Node sources. */
const pngjsBrowser: Plugin = {
  name: 'pngjs-browser',
  setup(b) {
    b.onResolve({ filter: /^pngjs$/ }, () => ({ path: new URL('../../node_modules/pngjs/browser.js', import.meta.url).pathname }));
  },
};

const browserOnly: Plugin = {
  name: 'browser-only',
  setup(b) {
    b.onResolve({ filter: /^(node:|webgpu$)/ }, (args) => {
      if (args.path === 'node:fs' && args.kind === 'dynamic-import' && args.importer.endsWith('/src/gpu/device.ts')) return { path: args.path, external: true };
      return {
        errors: [{ text: `${args.importer} imports ${args.path}, which does not exist in browsers: keep Node-only modules out of src/web's import graph` }],
      };
    });
  },
};

const OUTPUT_NAMES: Record<string, string> = { 'train/worker.ts': 'train-worker.js' };

async function bundle(entry: string, plugins: Plugin[], inject: string[] = []): Promise<void> {
  await build({
    entryPoints: [new URL(entry, source).pathname],
    outfile: new URL(OUTPUT_NAMES[entry] ?? entry.replace(/\.ts$/, '.js'), out).pathname,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    plugins,
    inject,
    logLevel: 'warning',
  });
}

mkdirSync(out, { recursive: true });
await bundle('engine.ts', [pngjsBrowser, browserOnly], [new URL('buffer_shim.ts', source).pathname]);
await bundle('page.ts', [engineExternal, browserOnly]);
await bundle('train/worker.ts', [engineExternal, browserOnly]);
for (const file of ['index.html', 'style.css']) copyFileSync(new URL(file, source), new URL(file, out));
console.log(`browser bundle written to ${out.pathname}`);
