// Builds src/tfjs/gradients.ts: every gradient that tfjs-core defines,
// registered through tfjs-core's public API.
//
// Why: tfjs-core's Node entry (a CommonJS bundle) registers no gradients; the
// umbrella package inlines them, and tfjs-core's own ES modules use
// extensionless imports that Node cannot load. This script bundles tfjs-core's
// `register_all_gradients` with esbuild, keeping `@tensorflow/tfjs-core`
// external: each tfjs-core module a gradient imports becomes a re-export of the
// same functions from the public API, so the engine, registries and Tensor
// class stay the single shared ones; modules the public API lacks (the private
// backprop ops) are bundled from tfjs-core's own sources.
//
// Usage: node scripts/bundle_gradients.mjs [--check]   (--check: fail if the committed file differs)
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);
const corePackage = require.resolve('@tensorflow/tfjs-core/package.json');
const coreVersion = JSON.parse(readFileSync(corePackage, 'utf8')).version;
const dist = path.join(path.dirname(corePackage), 'dist');
const target = new URL('../src/tfjs/gradients.ts', import.meta.url);

// Where the public API exports each module's names: a module named like a
// public namespace (slice_util, broadcast_util) there, util and util_base in
// util, the other *_util helpers (axis_util, conv_util, ...) in backend_util,
// everything else (ops, kernel names, engine) at the top. Names are never
// matched across namespaces: util.sum is not the sum op, and backend_util's
// computeOutShape is not slice_util's.
const namespaceOf = (ns) => (ns === '' ? tf : tf[ns]);
const preferred = (file) => {
  const base = path.basename(file, '.js');
  if (base === 'util' || base === 'util_base') return ['util'];
  if (typeof tf[base] === 'object') return [base, 'backend_util'];
  return base.endsWith('_util') ? ['backend_util'] : [''];
};
const publicPath = (name, file) => preferred(file).find((ns) => namespaceOf(ns)?.[name] !== undefined);

// Singletons the public API reaches through a function rather than a name.
const special = {
  ENGINE: 'tf.engine()',
  getGlobalTensorClass: '() => tf.Tensor',
};

const exportNames = (file) => {
  const source = readFileSync(file, 'utf8');
  const names = new Set();
  for (const m of source.matchAll(/^export (?:function\*?|const|let|var|class|async function) (\w+)/gm)) names.add(m[1]);
  for (const m of source.matchAll(/^export \* from '([^']+)'/gm)) for (const n of exportNames(resolveCore(file, m[1]))) names.add(n);
  for (const m of source.matchAll(/^export \{([^}]*)\}/gm)) {
    for (const part of m[1].split(',')) if (part.trim()) names.add(part.trim().split(/\s+as\s+/).pop());
  }
  return [...names];
};

// The backprop ops tfjs-core does not export, and the pure helpers of its
// convertToTensor: bundled from its sources.
const privateOps = /[\\/](?:gradients[\\/].*|register_all_gradients|tensor_util_env|types|ops[\\/](?:\w+_grad|\w+_backprop(?:_\w+)?))\.js$/;

// Every other module becomes the public names it exports; a name a gradient
// needs that is not public makes esbuild fail ("No matching export").
const reexport = (file) => {
  const lines = exportNames(file).flatMap((name) => {
    if (special[name]) return [`export const ${name} = ${special[name]};`];
    const ns = publicPath(name, file);
    return ns === undefined ? [] : [`export const ${name} = tf${ns ? `.${ns}` : ''}.${name};`];
  });
  return `import * as tf from '@tensorflow/tfjs-core';\n${lines.join('\n')}\n`;
};

const resolveCore = (importer, spec) => {
  const base = path.resolve(path.dirname(importer), spec);
  return base.endsWith('.js') ? base : `${base}.js`;
};

const publicApi = {
  name: 'tfjs-core-public-api',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const file = resolveCore(args.importer, args.path);
      // A virtual module's path is written into the output as a comment: relative, so the file is the same in every clone.
      return privateOps.test(file) ? { path: file } : { path: path.relative(dist, file), namespace: 'public' };
    });
    b.onLoad({ filter: /.*/, namespace: 'public' }, (args) => ({ contents: reexport(path.join(dist, args.path)), loader: 'js', resolveDir: dist }));
  },
};

const result = await build({
  entryPoints: [path.join(dist, 'register_all_gradients.js')],
  absWorkingDir: new URL('..', import.meta.url).pathname, // source comments are relative to it
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'neutral',
  external: ['@tensorflow/tfjs-core'],
  plugins: [publicApi],
  legalComments: 'none',
  logLevel: 'error',
});

const header = `// @ts-nocheck: generated JavaScript.
// deno-fmt-ignore-file
// deno-lint-ignore-file
/**
 * Every gradient tfjs-core ${coreVersion} defines, registered on import (tfjs-core's
 * Node entry registers none). Generated by scripts/bundle_gradients.mjs from
 * tfjs-core's own sources, Copyright Google LLC, Apache License 2.0
 * (http://www.apache.org/licenses/LICENSE-2.0). Do not edit; rerun the script.
 *
 * @module
 */
`;
const text = header + result.outputFiles[0].text;

if (process.argv.includes('--check')) {
  const committed = readFileSync(target, 'utf8');
  if (committed !== text) {
    console.error(`${target.pathname} is stale for tfjs-core ${coreVersion}: run node scripts/bundle_gradients.mjs`);
    process.exit(1);
  }
  console.log(`${target.pathname} matches tfjs-core ${coreVersion}`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target.pathname} (${text.length} bytes, tfjs-core ${coreVersion})`);
}
