/**
 * Relaxed SIMD in the library's own wasm kernels: detected as the runtime
 * has it, encoded right (its multiply-add rounds once or twice, never
 * otherwise), chosen or refused through selectBackend, and, on Node 20,
 * where it needs a flag, the kernels' float64 reference tests rerun with it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { assembleModule, madd, op, preferRelaxedSimd, relaxedSimdInUse, relaxedSimdSupported } from '../src/backend/wasm_asm.ts';
import { backendInfo, selectBackend } from '../mod.ts';

declare const Deno: unknown;
const onDeno = typeof Deno !== 'undefined';
const nodeMajor = onDeno ? 0 : Number(process.versions.node.split('.')[0]);
const flag = '--experimental-wasm-relaxed-simd';

/** a·b + c on four lanes, through `madd`, relaxed or not: inputs at bytes 0, 16, 32, the result at 48. */
const probe = (relaxed: boolean, a: number[], b: number[], c: number[]): Float32Array => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const load = (at: number) => [...op.i32Const(at), ...op.v128Load];
  const body = [...op.i32Const(48), ...madd(load(0), load(16), load(32), relaxed), ...op.v128Store];
  const { f } = new WebAssembly.Instance(
    new WebAssembly.Module(assembleModule([{ name: 'f', params: [], locals: [], body }]) as BufferSource),
    { env: { memory } },
  ).exports as { f(): void };
  const v = new Float32Array(memory.buffer, 0, 16);
  v.set([...a, ...b, ...c]);
  f();
  return v.slice(12, 16);
};

describe('relaxed SIMD', () => {
  test('is detected as this runtime has it: Deno and Node 22+ always, Node 20 with its flag', () => {
    const expected = onDeno || nodeMajor >= 22 || process.execArgv.includes(flag);
    assert.equal(relaxedSimdSupported(), expected);
    assert.equal(relaxedSimdInUse(), expected, 'used by default where supported');
  });
  test('its multiply-add gives a·b + c rounded once (fused) or twice, and the fallback rounds twice', (t) => {
    // (1 + 2⁻¹²)² − (1 + 2⁻¹¹) is exactly 2⁻²⁴; the product alone rounds to 1 + 2⁻¹¹, leaving 0.
    const a = 1 + 2 ** -12, c = -(1 + 2 ** -11);
    const lanes = (v: number) => [v, v, v, v];
    assert.deepEqual(Array.from(probe(false, lanes(a), lanes(a), lanes(c))), lanes(0));
    if (!relaxedSimdSupported()) return t.diagnostic('this runtime has no relaxed SIMD: the fused form is checked under Deno and by the flagged Node run');
    const fused = Array.from(probe(true, lanes(a), lanes(a), lanes(c)));
    assert.ok([0, 2 ** -24].includes(fused[0]) && fused.every((v) => v === fused[0]), `got ${fused}`);
    t.diagnostic(`relaxed madd here is ${fused[0] === 0 ? 'not fused' : 'fused'}`);
    // And on ordinary values it is the product plus c, to float32 rounding.
    const got = probe(true, [1.5, -2, 0.375, 7], [2.25, 0.5, 8, -0.125], [0.25, 1, -3, 0.875]);
    assert.deepEqual(Array.from(got), [3.625, 0, 0, 0]);
  });
  test('selectBackend turns it off and on, says so in its reason, and refuses a non-boolean', async () => {
    await selectBackend({ backend: 'wasm', relaxedSimd: false, warn: () => {} });
    assert.equal(relaxedSimdInUse(), false);
    assert.doesNotMatch(backendInfo().reason, /relaxed SIMD/);
    await selectBackend({ backend: 'wasm', warn: () => {} });
    assert.equal(relaxedSimdInUse(), relaxedSimdSupported());
    if (relaxedSimdSupported()) assert.match(backendInfo().reason, /, relaxed SIMD/);
    await assert.rejects(selectBackend({ backend: 'cpu', relaxedSimd: 'yes' as unknown as boolean }), /selectBackend\.relaxedSimd/);
    preferRelaxedSimd(true);
  });
  test('on Node 20, the kernels still match their float64 references with the flag on', {
    skip: onDeno || nodeMajor >= 22 ? 'relaxed SIMD is on in this runtime already' : false,
  }, () => {
    const backendTests = new URL('./backend.test.ts', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [flag, '--import', 'tsx', '--test', '--test-name-pattern', 'float64 reference|textbook formula', backendTests], {
      encoding: 'utf8',
      timeout: 300_000,
      // Without this, the child's runner reports to ours in its private format instead of printing its summary.
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')),
    });
    assert.equal(r.status, 0, `the flagged run failed: ${r.stdout.slice(-3000)}${r.stderr.slice(-1000)}`);
    assert.match(r.stdout, /# pass 2\b/);
  });
});
