/**
 * Marks of known-finite tensors (`src/backend/finite_marks.ts`): the wasm
 * ReLU and Adam kernels mark what they find finite, and a probe marks what it
 * read. A mark must never sit on a tensor holding a NaN or an infinity: the
 * NaN-keeping convolutions and `fit`'s guard skip what is marked.
 */
import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { selectBackend } from '../mod.ts';
import { isMarkedFinite } from '../src/backend/finite_marks.ts';
import { tensorIsFinite } from '../src/backend/finite_kernel.ts';
import { kernelIo } from '../src/backend/kernel_io.ts';
import { adamStep } from '../src/ops/adam.ts';

const negativeNaN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0];
const special = [NaN, negativeNaN, Infinity, -Infinity];
const allFiniteValues = (v: ArrayLike<number>) => Array.from(v).every(Number.isFinite);

/** Values of length 0..70 (SIMD bodies and JS tails), each non-finite with a small chance. */
const values = (chance: number) =>
  fc.array(
    fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...special) }, {
      weight: Math.round(1 / chance),
      arbitrary: fc.float({ min: -1e3, max: 1e3, noNaN: true }),
    }),
    { maxLength: 70 },
  );

const onWasm = async (f: () => Promise<void> | void) => {
  const before = tf.getBackend();
  await selectBackend({ backend: 'wasm', warn: () => {} });
  try {
    await f();
  } finally {
    await tf.setBackend(before);
  }
};

describe('marks of known-finite tensors on wasm', () => {
  test('relu and relu6 mark input and output exactly when the input is finite', () =>
    onWasm(() => {
      fc.assert(
        fc.property(values(0.02), fc.boolean(), (xs, six) => {
          const x = tf.tensor1d(xs), y = six ? tf.relu6(x) : tf.relu(x);
          try {
            const finite = allFiniteValues(xs);
            // An empty tensor is finite, marked or not (tfjs may skip the kernel).
            if (xs.length > 0) assert.equal(isMarkedFinite(y), finite, `relu of [${xs}]`);
            assert.ok(!isMarkedFinite(x) || finite, `the input [${xs}] is marked`);
          } finally {
            tf.dispose([x, y]);
          }
        }),
        { numRuns: 300, seed: 11 },
      );
    }));

  test('the Adam kernel marks its outputs only when all are finite, and not after g² overflows', () =>
    onWasm(() => {
      const h = { b1: 0.9, b2: 0.999, c1: 0.1, c2: 0.001, eps: 1e-8, epsRoot: 0 };
      fc.assert(
        fc.property(values(0.02), fc.boolean(), fc.boolean(), (gs, huge, applied) => {
          const n = gs.length;
          const g = tf.tensor1d(huge && n > 0 ? gs.map((v, i) => (i === n - 1 ? 1e30 : v)) : gs);
          const m = tf.zeros([n]), v = tf.zeros([n]), p = tf.ones([n]);
          const outs = applied ? adamStep(g, m, v, { ...h, lr: 1e-3, wd: 0.01, apply: true }, p) : adamStep(g, m, v, h);
          try {
            const finite = outs.every((t) => allFiniteValues(t.dataSync()));
            for (const t of outs) if (isMarkedFinite(t)) assert.ok(finite, `a marked output holds a non-finite value (g = [${gs}], huge ${huge})`);
            // Whole groups of four go through SIMD, which marks; a finite update of them is marked.
            if (finite && n >= 4) assert.ok(outs.every(isMarkedFinite), `finite outputs of ${n} values were not marked`);
            if (huge && n > 0) assert.ok(!finite, 'g = 1e30 should overflow v′ (g² > 3.4e38)');
          } finally {
            tf.dispose([g, m, v, p, ...outs]);
          }
        }),
        { numRuns: 300, seed: 12 },
      );
    }));

  test('a probe marks what it found finite, and nothing else', () =>
    onWasm(() => {
      fc.assert(
        fc.property(values(0.05), (xs) => {
          const t = tf.tensor1d(xs);
          try {
            assert.ok(!isMarkedFinite(t));
            const io = kernelIo(tf.backend())!;
            const finite = tensorIsFinite(io, tf.backend(), t);
            assert.equal(finite, allFiniteValues(xs));
            assert.equal(isMarkedFinite(t), finite);
            assert.equal(tensorIsFinite(io, tf.backend(), t), finite, 'a second probe gives the same answer');
          } finally {
            t.dispose();
          }
        }),
        { numRuns: 300, seed: 13 },
      );
    }));
});
