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
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let k = 0; k < c; k++) {
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
      }
    }
  }
  return out;
};

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.from(a).every((v, i) => (Number.isNaN(v) ? Number.isNaN(b[i]) : v === b[i]));

/** A conv case's input and filter: smooth values from a seed, NHWC and [kh, kw, ci, co]. */
const convOperands = (nb: number, h: number, w: number, ci: number, co: number, ks: number, seed: number) => ({
  xs: [nb, h, w, ci],
  fs: [ks, ks, ci, co],
  x: Float32Array.from({ length: nb * h * w * ci }, (_, i) => Math.sin(seed + i)),
  f: Float32Array.from({ length: ks * ks * ci * co }, (_, i) => Math.cos(seed + 3 * i)),
});

/** Each case's outputs here (wasm) and on cpu, the reference (plain loops); back on wasm afterwards. */
const withCpuReference = async <C>(cases: readonly C[], run: (c: C) => number[][]): Promise<{ got: number[][][]; expected: number[][][] }> => {
  const got = cases.map(run);
  await tf.setBackend('cpu');
  try {
    return { got, expected: cases.map(run) };
  } finally {
    await selectBackend({ backend: 'wasm' });
  }
};

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
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 2 }),
          fc.integer({ min: 1, max: 7 }),
          fc.integer({ min: 1, max: 7 }),
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 3 }),
          fc.constantFrom('valid', 'same'),
          fc.integer({ min: 0, max: 2 ** 31 }),
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
        ),
        runs(60),
      );
    });

    // On wasm only: cpu is the reference.
    if (backend === 'wasm') {
      test('conv2d, fused conv2d and avgPool with a NaN or an infinity agree with the cpu backend, value for value', async () => {
        const cases: { x: Float32Array; xs: number[]; f: Float32Array; fs: number[]; stride: number; pad: 'valid' | 'same'; bias: number[] }[] = [];
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 2 }),
            fc.integer({ min: 1, max: 5 }),
            fc.integer({ min: 1, max: 5 }),
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: 2 }),
            fc.constantFrom('valid', 'same'),
            fc.constantFrom(NaN, NEGATIVE_NAN, Infinity, -Infinity),
            fc.nat(),
            fc.integer({ min: 0, max: 2 ** 31 }),
            (nb, h, w, ci, co, ks, stride, pad, poison, at, seed) => {
              if (ks > h || ks > w) return;
              const { xs, fs, x, f } = convOperands(nb, h, w, ci, co, ks, seed);
              x[at % x.length] = poison;
              cases.push({ x, xs, f, fs, stride, pad, bias: Array.from({ length: co }, (_, i) => i / 4) });
            },
          ),
          runs(60),
        );
        const run = (c: (typeof cases)[number]) =>
          tf.tidy(() => {
            const x = tf.tensor4d(c.x, c.xs as [number, number, number, number]), f = tf.tensor4d(c.f, c.fs as [number, number, number, number]);
            return [
              tf.conv2d(x, f, c.stride, c.pad),
              tf.fused.conv2d({ x, filter: f, strides: c.stride, pad: c.pad, bias: tf.tensor1d(c.bias), activation: 'relu' }),
              tf.avgPool(x, c.fs[0], c.stride, c.pad),
            ].map((t) => Array.from(t.dataSync()));
          });
        const { got, expected } = await withCpuReference(cases, run);
        cases.forEach((c, n) =>
          ['conv2d', 'fused conv2d + relu', 'avgPool'].forEach((op, k) => {
            const g = got[n][k], e = expected[n][k];
            const same = g.length === e.length &&
              g.every((
                v,
                i,
              ) => (Number.isFinite(e[i]) ? Math.abs(v - e[i]) <= 1e-4 * (1 + Math.abs(e[i])) : Object.is(v, e[i]) || (Number.isNaN(v) && Number.isNaN(e[i]))));
            assert.ok(same, `${op} ${JSON.stringify({ x: c.xs, f: c.fs, stride: c.stride, pad: c.pad })}: ${g} != ${e}`);
          })
        );
      });
    }

    // The gradient convolutions run the stock kernel (NON_FINITE_AS_STOCK): a NaN may come out as
    // ±Infinity there, but never as a finite number. XNNPACK also multiplies the zeros of padding
    // into a window, so a NaN cotangent can make more gradient entries NaN than cpu's loops, which
    // skip padded taps; each of those is a product with a NaN, as in im2col.
    if (backend === 'wasm') {
      test("conv2d gradients through a NaN or an infinity are not finite where cpu's are not, and agree where both are finite", async () => {
        const cases: { x: Float32Array; xs: number[]; f: Float32Array; fs: number[]; r: Float32Array; stride: number; pad: 'valid' | 'same' }[] = [];
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 2 }),
            fc.integer({ min: 2, max: 6 }),
            fc.integer({ min: 2, max: 6 }),
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: 2 }),
            fc.constantFrom('valid', 'same'),
            fc.constantFrom(NaN, NEGATIVE_NAN, Infinity, -Infinity),
            fc.boolean(),
            fc.nat(),
            fc.integer({ min: 0, max: 2 ** 31 }),
            (nb, h, w, ci, co, ks, stride, pad, poison, inCotangent, at, seed) => {
              if (ks > h || ks > w) return;
              const { xs, fs, x, f } = convOperands(nb, h, w, ci, co, ks, seed);
              const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], stride, 1, pad);
              const r = Float32Array.from({ length: nb * info.outHeight * info.outWidth * co }, (_, i) => Math.sin(2 * seed + 5 * i));
              const target = inCotangent ? r : x;
              target[at % target.length] = poison;
              cases.push({ x, xs, f, fs, r, stride, pad });
            },
          ),
          runs(60),
        );
        const run = (c: (typeof cases)[number]) =>
          tf.tidy(() => {
            const x = tf.tensor4d(c.x, c.xs as [number, number, number, number]), f = tf.tensor4d(c.f, c.fs as [number, number, number, number]);
            const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
              const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
              return tf.sum(tf.mul(y, tf.tensor(c.r, y.shape)));
            });
            return grads([x, f]).map((t) => Array.from(t.dataSync()));
          });
        const { got, expected } = await withCpuReference(cases, run);
        cases.forEach((c, n) =>
          ['d/dx', 'd/dfilter'].forEach((which, k) => {
            const g = got[n][k], e = expected[n][k];
            const ok = g.length === e.length &&
              g.every((v, i) => (!Number.isFinite(e[i]) ? !Number.isFinite(v) : !Number.isFinite(v) || Math.abs(v - e[i]) <= 1e-4 * (1 + Math.abs(e[i]))));
            assert.ok(ok, `${which} ${JSON.stringify({ x: c.xs, f: c.fs, stride: c.stride, pad: c.pad })}: ${g} against cpu's ${e}`);
          })
        );
      });
    }

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
