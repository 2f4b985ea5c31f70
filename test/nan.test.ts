/**
 * NaN propagation: a NaN in never becomes a finite number out, for every
 * family of layers on both default engines, and the kernels that used to
 * drop it (wasm's ReLU, both max pools) agree with a plain reference.
 */
import { runs, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as laws from '../laws.ts';
import { selectBackend } from '../mod.ts';
import { layerFamilies } from './fixtures/families.ts';

const NEGATIVE_NAN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0];


/** A plain max pool over NHWC, NaN winning its window, out-of-range (padding) positions skipped. */
const referenceMaxPool = (x: Float32Array, [n, h, w, c]: number[], size: number, stride: number, top: number, left: number, oh: number, ow: number) => {
  const out = new Float32Array(n * oh * ow * c);
  for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let k = 0; k < c; k++) {
    let m = -Infinity;
    for (let r = i * stride - top; r < i * stride - top + size; r++) {
      for (let q = j * stride - left; q < j * stride - left + size; q++) {
        if (r < 0 || r >= h || q < 0 || q >= w) continue;
        const v = x[((b * h + r) * w + q) * c + k];
        if (Number.isNaN(v) || Number.isNaN(m)) m = NaN;
        else m = Math.max(m, v);
      }
    }
    out[((b * oh + i) * ow + j) * c + k] = m;
  }
  return out;
};

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.from(a).every((v, i) => (Number.isNaN(v) ? Number.isNaN(b[i]) : v === b[i]));

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`NaN propagation on ${backend}`, () => {
    test('select the backend', async () => {
      await selectBackend({ backend });
    });
    for (const [name, arb, n] of layerFamilies) {
      // Half the runs of the other laws: this one runs on two engines.
      test(`${name}: the NaN law`, () => fc.assert(laws.nanPropagationProperty(arb()), runs(Math.ceil(n / 2))));
    }

    test('max pool equals the reference, NaN included: valid and same padding, any channel count', () => {
      fc.assert(fc.property(
        fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom('valid', 'same'), fc.integer({ min: 0, max: 2 ** 31 }),
        (nb, h, w, c, size, stride, pad, seed) => {
          if (size > h || size > w) return;
          const shape = [nb, h, w, c];
          const values = tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);
          for (let i = 0; i < values.length; i++) if ((seed >>> (i % 31)) % 11 === 0) values[i] = i % 2 ? NaN : NEGATIVE_NAN;
          const x = tf.tensor4d(values, shape as [number, number, number, number]);
          const y = tf.maxPool(x, size, stride, pad);
          const info = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], size, stride, 1, pad);
          const expected = referenceMaxPool(values, shape, size, stride, info.padInfo.top, info.padInfo.left, info.outHeight, info.outWidth);
          const got = y.dataSync();
          tf.dispose([x, y]);
          assert.ok(sameBits(got, expected), `maxPool ${JSON.stringify({ shape, size, stride, pad })}: ${Array.from(got)} != ${Array.from(expected)}`);
        },
      ), runs(60));
    });

    test('relu and relu6 keep every NaN, either sign, in the SIMD body and the tail', () => {
      for (const len of [1, 3, 4, 7, 16, 33]) {
        const values = Float32Array.from({ length: len }, (_, i) => (i % 3 === 0 ? NEGATIVE_NAN : i % 3 === 1 ? NaN : (i - 10) * 1.5));
        const x = tf.tensor1d(values);
        const [relu, relu6] = [tf.relu(x), tf.relu6(x)].map((t) => {
          const v = t.dataSync();
          t.dispose();
          return v;
        });
        x.dispose();
        assert.ok(sameBits(relu, values.map((v) => (Number.isNaN(v) ? NaN : Math.max(v, 0)))), `relu of ${len}: ${relu}`);
        assert.ok(sameBits(relu6, values.map((v) => (Number.isNaN(v) ? NaN : Math.min(Math.max(v, 0), 6)))), `relu6 of ${len}: ${relu6}`);
      }
    });
  });
}
