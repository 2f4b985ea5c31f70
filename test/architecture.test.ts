/**
 * The library's shape, as ../shared/DESIGN.md draws it: dependencies flow
 * downwards, the loop is extended by injection, and importing a module
 * registers nothing with tfjs.
 */
import './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { runScript } from './fixtures/run.ts';

const src = new URL('../src/', import.meta.url);

/** Every source file under src/, as a path relative to it. */
const files = (dir = ''): string[] =>
  readdirSync(new URL(dir, src)).flatMap((name) => {
    const rel = dir + name;
    return statSync(new URL(rel, src)).isDirectory() ? files(`${rel}/`) : rel.endsWith('.ts') ? [rel] : [];
  });

/** The top-level part of src/ (a folder, or a file's stem) that each relative import of `file` reaches. */
const importedParts = (file: string): string[] => {
  const text = readFileSync(new URL(file, src), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map(([, spec]) => {
    const target = new URL(spec, new URL(file, src)).href.slice(src.href.length);
    return target.split('/')[0].replace(/\.ts$/, '');
  });
};

/** Which parts each part imports, over all its files. */
const graph = (): Map<string, Set<string>> => {
  const g = new Map<string, Set<string>>();
  for (const f of files()) {
    const part = f.split('/')[0].replace(/\.ts$/, '');
    const set = g.get(part) ?? new Set();
    importedParts(f).filter((p) => p !== part).forEach((p) => set.add(p));
    g.set(part, set);
  }
  return g;
};

describe('architecture', () => {
  test('layers, optimizers, the loop and the blocks never import the engine or the threads; the loop never imports io', () => {
    const g = graph();
    const forbidden: Record<string, string[]> = {
      layers: ['backend', 'parallel', 'io'],
      optim: ['backend', 'parallel', 'io', 'train', 'layers'],
      train: ['backend', 'parallel', 'io'],
      blocks: ['backend', 'parallel'],
      combinators: ['backend', 'parallel'],
      ops: ['backend', 'layers', 'optim', 'train'],
    };
    for (const [part, banned] of Object.entries(forbidden)) {
      const bad = banned.filter((b) => g.get(part)?.has(b));
      assert.deepEqual(bad, [], `src/${part} imports ${bad.join(', ')}`);
    }
    assert.ok(g.get('train')?.has('optim') && g.get('layers')?.has('ops'), 'the graph was read (train imports optim, layers import ops)');
  });

  test('tfjs-core is imported only through src/tfjs, which registers the cpu backend and the gradients', () => {
    // Doc comments may show users importing tfjs-core; code may not.
    const direct = files().filter((f) =>
      !f.startsWith('tfjs/') &&
      /^(?:import|export)\b[^;]*?from '@tensorflow\/tfjs-core'|^[^*\n]*import\('@tensorflow\/tfjs-core'\)/m.test(readFileSync(new URL(f, src), 'utf8'))
    );
    assert.deepEqual(direct, []);
    assert.ok(graph().get('layers')?.has('tfjs'), 'the graph was read (layers import src/tfjs)');
  });

  test('the import graph has no cycles between folders', () => {
    const g = graph();
    const cycle = (start: string): string[] | undefined => {
      const walk = (at: string, path: string[]): string[] | undefined => {
        for (const next of g.get(at) ?? []) {
          if (next === start) return [...path, next];
          if (!path.includes(next)) {
            const found = walk(next, [...path, next]);
            if (found) return found;
          }
        }
        return undefined;
      };
      return walk(start, [start]);
    };
    for (const part of g.keys()) assert.equal(cycle(part), undefined, `cycle: ${cycle(part)?.join(' -> ')}`);
  });

  test('importing the entry points registers no kernel and replaces no gradient; selectBackend installs them', () => {
    const r = runScript(new URL('./fixtures/import_side_effects.ts', import.meta.url).pathname, []);
    assert.equal(r.status, 0, r.stderr);
    const line = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.deepEqual(line.afterImport, { kernels: [], gradients: [] });
    assert.deepEqual(line.afterSelect, {
      kernels: ['TsnnBatchNormTrain', 'TsnnBatchNormGrad', 'TsnnBatchNormRunningStats', 'TsnnAdamMoments'],
      gradients: ['Conv2D', 'BatchMatMul', 'MaxPool', 'AvgPool'],
    });
  });
});
