/**
 * Shared set-up for the test suite: the cpu backend with the library's
 * engine installed, and small helpers.
 * Imported first by every test file, under Node and Deno alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../src/backend/select.ts';

// The library's kernels and gradient rewrites on tfjs's cpu backend, chosen (so that training keeps it),
// and without the one-time notice that it is slow.
await selectBackend({ backend: 'cpu', warn: () => {} });

/** fast-check runs per property; `NN_TEST_RUNS` scales them (e.g. 5 for a deep soak). */
export const runs = (n: number): { numRuns: number } => ({ numRuns: Math.max(1, Math.round(n * Number(process.env.NN_TEST_RUNS_SCALE ?? 1))) });

/** Assert two arrays of numbers agree within an absolute tolerance. */
export const assertClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = 'value'): void => {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
  }
};

/** Assert `f` throws an error whose message contains every fragment. */
export const assertThrowsWith = (f: () => unknown, ...fragments: string[]): Error => {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected an error mentioning ${fragments.join(', ')}, but nothing was thrown`);
  for (const frag of fragments) {
    assert.ok(caught.message.includes(frag), `error message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(frag)}`);
  }
  return caught;
};

/** Run `f` and assert it leaves no tensors behind. */
export const assertNoLeak = <T>(f: () => T, what = 'operation'): T => {
  const before = tf.memory().numTensors;
  const r = f();
  const after = tf.memory().numTensors;
  assert.equal(after, before, `${what} leaked ${after - before} tensors`);
  return r;
};

export { tf };

/** Run `f` with a fresh temporary folder, removed afterwards whatever happens. */
export const withTempDir = async <T>(prefix: string, f: (dir: string) => T | Promise<T>): Promise<T> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsnn-${prefix}-`));
  try {
    return await f(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
};
