/**
 * Training with no engine chosen picks the fastest one (wasm on every core
 * here), through each entry point, in a fresh process; a user who chose the
 * cpu backend is told once that it is slow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScript } from './fixtures/run.ts';
import { relaxedSimdSupported } from '../src/backend/wasm_asm.ts';

const run = (args: string[]) => {
  const r = runScript(new URL('./fixtures/default_engine.ts', import.meta.url).pathname, args, { timeoutMs: 180_000 });
  assert.equal(r.status, 0, `default_engine.ts ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; reason: string; warnings: string[] };
};

for (const via of ['fit', 'fitOneCycle', 'lrFind', 'trainStep']) {
  test(`${via} with no engine chosen trains on wasm with a thread per core, and says nothing`, () => {
    const r = run(['--via', via]);
    assert.equal(r.name, 'wasm', r.reason);
    assert.match(r.reason, new RegExp(`^default: .*wasm on \\d threads? \\(default: one per core\\)${relaxedSimdSupported() ? ', relaxed SIMD' : ''}$`));
    assert.deepEqual(r.warnings.filter((w) => w.startsWith('tsnn:')), []);
  });
}

test('a user who chose the cpu backend keeps it, and is told once that it is slow', () => {
  const r = run(['--via', 'fit', '--chose-cpu']);
  assert.equal(r.name, 'cpu');
  assert.equal(r.reason, 'requested by option');
  const told = r.warnings.filter((w) => w.startsWith('tsnn:'));
  assert.equal(told.length, 1, told.join('\n'));
  assert.match(told[0], /^tsnn: fit trains on tfjs's pure-JS cpu backend \(requested by option\), about 30× slower than wasm; leave the backend unset/);
});
