import { assertClose, assertNoLeak, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  avgPool,
  batchNorm,
  conv2d,
  dense,
  disposeTree,
  dropout,
  evalCtx,
  flatten,
  gelu,
  globalAvgPool,
  identity,
  LayerError,
  maxPool,
  normal,
  prngKey,
  relu,
  serial,
  trainCtx,
  withLabel,
} from '../mod.ts';

// ---------------------------------------------------------------------------
// Independent references, written as plain loops over NHWC arrays
// ---------------------------------------------------------------------------

const at = (x: Float32Array, [, h, w, c]: number[], b: number, i: number, j: number, k: number) => x[((b * h + i) * w + j) * c + k];

/** PyTorch's Conv2d with symmetric zero padding, weights [kh, kw, cin, cout]. */
const refConv = (x: Float32Array, xs: number[], wt: Float32Array, ks: number, cout: number, stride: number, pad: number) => {
  const [n, h, w, cin] = xs;
  const oh = Math.floor((h + 2 * pad - ks) / stride) + 1, ow = Math.floor((w + 2 * pad - ks) / stride) + 1;
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let o = 0; o < cout; o++) {
          let s = 0;
          for (let di = 0; di < ks; di++) {
            for (let dj = 0; dj < ks; dj++) {
              for (let ci = 0; ci < cin; ci++) {
                const ii = i * stride + di - pad, jj = j * stride + dj - pad;
                if (ii >= 0 && ii < h && jj >= 0 && jj < w) s += at(x, xs, b, ii, jj, ci) * wt[((di * ks + dj) * cin + ci) * cout + o];
              }
            }
          }
          out.push(s);
        }
      }
    }
  }
  return { out, shape: [n, oh, ow, cout] };
};

/** PyTorch's AvgPool2d / MaxPool2d (count_include_pad=True), ceil mode included, from its C++ kernels. */
const refPool = (kind: 'avg' | 'max', x: Float32Array, xs: number[], k: number, s: number, pad: number, ceil: boolean) => {
  const [n, h, w, c] = xs;
  const size = (len: number) => {
    let o = (ceil ? Math.ceil((len + 2 * pad - k) / s) : Math.floor((len + 2 * pad - k) / s)) + 1;
    if (ceil && (o - 1) * s >= len + pad) o--;
    return o;
  };
  const oh = size(h), ow = size(w), out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let ch = 0; ch < c; ch++) {
          let hs = i * s - pad, ws = j * s - pad;
          let he = Math.min(hs + k, h + pad), we = Math.min(ws + k, w + pad);
          const poolSize = (he - hs) * (we - ws);
          hs = Math.max(hs, 0);
          ws = Math.max(ws, 0);
          he = Math.min(he, h);
          we = Math.min(we, w);
          let acc = kind === 'avg' ? 0 : -Infinity;
          for (let ii = hs; ii < he; ii++) {
            for (let jj = ws; jj < we; jj++) {
              const v = at(x, xs, b, ii, jj, ch);
              acc = kind === 'avg' ? acc + v : Math.max(acc, v);
            }
          }
          out.push(kind === 'avg' ? acc / poolSize : acc);
        }
      }
    }
  }
  return { out, shape: [n, oh, ow, c] };
};

const randn = (shape: number[], seed: number) => tf.tensor(normal(prngKey(seed), shape.reduce((a, b) => a * b, 1)), shape);

// ---------------------------------------------------------------------------

describe('layers', () => {
  test('conv2d with explicit padding matches a PyTorch-semantics reference', () => {
    fc.assert(
      fc.property(
        fc.record({
          ks: fc.constantFrom(1, 2, 3, 5),
          stride: fc.integer({ min: 1, max: 3 }),
          pad: fc.integer({ min: 0, max: 2 }),
          h: fc.integer({ min: 1, max: 8 }),
          w: fc.integer({ min: 1, max: 8 }),
          cin: fc.integer({ min: 1, max: 3 }),
          cout: fc.integer({ min: 1, max: 3 }),
          n: fc.integer({ min: 1, max: 2 }),
          seed: fc.nat(),
        }).filter((r) => r.h + 2 * r.pad >= r.ks && r.w + 2 * r.pad >= r.ks),
        (r) => {
          const layer = conv2d({ nf: r.cout, ks: r.ks, stride: r.stride, padding: r.pad, bias: false });
          const { params, outShape } = layer.init(prngKey(r.seed), [r.h, r.w, r.cin]);
          const x = randn([r.n, r.h, r.w, r.cin], r.seed + 1);
          const y = layer.apply(params, {}, x, evalCtx).y as tf.Tensor;
          const ref = refConv(x.dataSync() as Float32Array, x.shape, params.weight.dataSync() as Float32Array, r.ks, r.cout, r.stride, r.pad);
          assert.deepEqual(y.shape, ref.shape);
          assert.deepEqual([r.n, ...outShape], ref.shape);
          assertClose(y.dataSync(), ref.out, 1e-4, 'conv');
          [x, y].forEach((t) => t.dispose());
          disposeTree(params);
        },
      ),
      { numRuns: 40 },
    );
  });

  test("conv2d 'same' gives ceil(h / stride), 'valid' shrinks; bias is added", () => {
    const same = conv2d({ nf: 2, ks: 3, stride: 2, padding: 'same' }).init(prngKey(0), [7, 5, 1]);
    assert.deepEqual(same.outShape, [4, 3, 2]);
    const valid = conv2d({ nf: 2, ks: 3, padding: 'valid' }).init(prngKey(0), [7, 5, 1]);
    assert.deepEqual(valid.outShape, [5, 3, 2]);
    const layer = conv2d({ nf: 1, ks: 1 });
    const { params } = layer.init(prngKey(0), [1, 1, 1]);
    const y = layer.apply(params, {}, tf.ones([1, 1, 1, 1]), evalCtx).y as tf.Tensor;
    assertClose(y.dataSync(), [params.weight.dataSync()[0] + params.bias!.dataSync()[0]]);
    [same, valid].forEach((r) => disposeTree(r.params));
    disposeTree(params);
    y.dispose();
  });

  test("conv2d with init 'kaimingNormal' draws std sqrt(2 / fanIn)", () => {
    const { params } = conv2d({ nf: 64, ks: 3, bias: false, init: 'kaimingNormal' }).init(prngKey(0), [8, 8, 32]);
    const v = params.weight.dataSync();
    const std = Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0) / v.length);
    assert.ok(Math.abs(std - Math.sqrt(2 / (9 * 32))) < 0.01 * Math.sqrt(2 / 288) * 10, `std ${std}`);
    disposeTree(params);
  });

  test('avgPool(2, ceilMode) on a 3×3 input gives PyTorch values', () => {
    const x = tf.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const y = avgPool({ size: 2, ceilMode: true }).apply({}, {}, x, evalCtx).y as tf.Tensor;
    assert.deepEqual(y.shape, [1, 2, 2, 1]);
    // Windows [1,2,4,5], [3,6], [7,8], [9]: the overhang is not counted.
    assertClose(y.dataSync(), [3, 4.5, 7.5, 9]);
    [x, y].forEach((t) => t.dispose());
  });

  test('avgPool and maxPool match PyTorch-semantics references (padding, ceil mode)', () => {
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constantFrom('avg' as const, 'max' as const),
          k: fc.integer({ min: 1, max: 4 }),
          s: fc.integer({ min: 1, max: 3 }),
          pad: fc.integer({ min: 0, max: 2 }),
          ceil: fc.boolean(),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 9 }),
          c: fc.integer({ min: 1, max: 2 }),
          seed: fc.nat(),
        }).filter((r) => 2 * r.pad <= r.k && r.h + 2 * r.pad >= r.k && r.w + 2 * r.pad >= r.k),
        (r) => {
          const opts = { size: r.k, stride: r.s, padding: r.pad, ceilMode: r.ceil };
          const layer = r.kind === 'avg' ? avgPool(opts) : maxPool(opts);
          const x = randn([2, r.h, r.w, r.c], r.seed);
          const y = layer.apply({}, {}, x, evalCtx).y as tf.Tensor;
          const ref = refPool(r.kind, x.dataSync() as Float32Array, x.shape, r.k, r.s, r.pad, r.ceil);
          assert.deepEqual(y.shape, ref.shape);
          assert.deepEqual([2, ...layer.init(prngKey(0), [r.h, r.w, r.c]).outShape], ref.shape);
          assertClose(y.dataSync(), ref.out, 1e-5, `${r.kind}Pool`);
          [x, y].forEach((t) => t.dispose());
        },
      ),
      { numRuns: 60 },
    );
  });

  test("avgPool's gradient is the adjoint of the (linear) pool: <pool(u), p> = <u, grad of <pool(x), p>>", () => {
    fc.assert(
      fc.property(
        fc.record({
          k: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 3 }),
          pad: fc.integer({ min: 0, max: 1 }),
          ceil: fc.boolean(),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 9 }),
          seed: fc.nat(),
        }).filter((r) => 2 * r.pad <= r.k && r.h + 2 * r.pad >= r.k && r.w + 2 * r.pad >= r.k),
        (r) =>
          tf.tidy(() => {
            const layer = avgPool({ size: r.k, stride: r.s, padding: r.pad, ceilMode: r.ceil });
            const pool = (x: tf.Tensor) => layer.apply({}, {}, x, { training: true }).y as tf.Tensor;
            const u = randn([2, r.h, r.w, 3], r.seed), x = randn([2, r.h, r.w, 3], r.seed + 1);
            const p = randn(pool(x).shape, r.seed + 2);
            const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool(t), p)))(x);
            const lhs = tf.sum(tf.mul(pool(u), p)).dataSync()[0], rhs = tf.sum(tf.mul(u, grad)).dataSync()[0];
            assertClose([lhs], [rhs], 1e-4 * Math.max(1, Math.abs(lhs)), JSON.stringify(r));
          }),
      ),
      { numRuns: 60 },
    );
  });

  test('batchNorm trains on batch statistics and updates running stats (PyTorch convention)', () => {
    const bn = batchNorm({ momentum: 0.1 });
    const { params, state } = bn.init(prngKey(0), [2, 2, 3]);
    const x = randn([4, 2, 2, 3], 5);
    const r = bn.apply(params, state, x, trainCtx());
    const xv = x.dataSync(), y = (r.y as tf.Tensor).dataSync();
    for (let ch = 0; ch < 3; ch++) {
      const vals = Array.from(xv).filter((_, i) => i % 3 === ch);
      const m = vals.reduce((a, b) => a + b) / vals.length;
      const v = vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length;
      const ys = Array.from(y).filter((_, i) => i % 3 === ch);
      assertClose(ys, vals.map((u) => (u - m) / Math.sqrt(v + 1e-5)), 1e-4, `channel ${ch}`);
      assertClose([r.state.mean.dataSync()[ch]], [0.1 * m], 1e-6, 'running mean');
      assertClose([r.state.var.dataSync()[ch]], [0.9 + 0.1 * v * vals.length / (vals.length - 1)], 1e-5, 'running var');
    }
    // Evaluation uses the running statistics.
    const e = bn.apply(params, r.state, x, evalCtx);
    const mean = r.state.mean.dataSync(), vr = r.state.var.dataSync();
    assertClose((e.y as tf.Tensor).dataSync(), Array.from(xv).map((u, i) => (u - mean[i % 3]) / Math.sqrt(vr[i % 3] + 1e-5)), 1e-4, 'eval');
    assert.equal(e.state, r.state);
    [x, r.y as tf.Tensor, e.y as tf.Tensor].forEach((t) => t.dispose());
    [params, state, r.state].forEach(disposeTree);
  });

  test("batchNorm init 'zero' is BatchZero: gamma 0, so the output is beta", () => {
    const bn = batchNorm({ init: 'zero' });
    const { params, state } = bn.init(prngKey(0), [5]);
    assert.deepEqual(Array.from(params.gamma.dataSync()), [0, 0, 0, 0, 0]);
    const x = randn([3, 5], 1);
    const y = bn.apply(params, state, x, trainCtx()).y as tf.Tensor;
    assertClose(y.dataSync(), new Array(15).fill(0));
    [x, y].forEach((t) => t.dispose());
    disposeTree(params);
    disposeTree(state);
  });

  test('dense computes x·W + b', () => {
    const layer = dense({ nf: 2 });
    const { params } = layer.init(prngKey(3), [3]);
    const x = tf.tensor([[1, 2, 3]]);
    const y = layer.apply(params, {}, x, evalCtx).y as tf.Tensor;
    const w = params.weight.arraySync() as number[][], b = params.bias!.dataSync();
    assertClose(y.dataSync(), [0, 1].map((o) => w[0][o] + 2 * w[1][o] + 3 * w[2][o] + b[o]));
    [x, y].forEach((t) => t.dispose());
    disposeTree(params);
  });

  test('dropout: identity in eval; deterministic mask from the key in training', () => {
    const d = dropout({ rate: 0.25 });
    const x = tf.ones([100, 40]);
    assert.equal(d.apply({}, {}, x, evalCtx).y, x);
    const a = d.apply({}, {}, x, trainCtx(prngKey(1))).y as tf.Tensor;
    const b = d.apply({}, {}, x, trainCtx(prngKey(1))).y as tf.Tensor;
    const c = d.apply({}, {}, x, trainCtx(prngKey(2))).y as tf.Tensor;
    const av = Array.from(a.dataSync());
    assert.deepEqual(av, Array.from(b.dataSync()));
    assert.notDeepEqual(av, Array.from(c.dataSync()));
    const zeros = av.filter((v) => v === 0).length / av.length;
    assert.ok(Math.abs(zeros - 0.25) < 0.03, `dropped fraction ${zeros}`);
    assert.ok(av.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    assert.throws(() => d.apply({}, {}, x, trainCtx()), /dropout '<root>': training mode needs a key/);
    [x, a, b, c].forEach((t) => t.dispose());
  });

  test('activations, flatten, globalAvgPool and identity', () => {
    assertNoLeak(() =>
      tf.tidy(() => {
        const x = tf.tensor([-1, 0, 2, 3], [1, 2, 2, 1]);
        assertClose((relu.apply({}, {}, x, evalCtx).y as tf.Tensor).dataSync(), [0, 0, 2, 3]);
        assertClose((gelu.apply({}, {}, tf.tensor([1]), evalCtx).y as tf.Tensor).dataSync(), [0.8411920], 1e-5);
        assert.deepEqual((flatten.apply({}, {}, x, evalCtx).y as tf.Tensor).shape, [1, 4]);
        assertClose((globalAvgPool.apply({}, {}, x, evalCtx).y as tf.Tensor).dataSync(), [1]);
        assert.equal(identity.apply({}, {}, x, evalCtx).y, x);
      }), 'pointwise layers');
  });
});

describe('params and state that are missing', () => {
  test('apply names the layer path and the field, not a bare TypeError, and leaks nothing', () => {
    const model = serial(withLabel('conv', conv2d({ nf: 4 })), withLabel('bn', batchNorm()), relu, flatten, withLabel('head', dense({ nf: 3 })));
    const { params, state } = model.init(prngKey(0), [4, 4, 1]);
    const x = tf.ones([2, 4, 4, 1]);
    const p = params as Record<string, Record<string, tf.Tensor>>, s = state as Record<string, Record<string, tf.Tensor>>;
    const disposed = tf.ones([4]);
    disposed.dispose();
    const before = tf.memory().numTensors;
    for (
      const [what, ps, ss, training, pattern] of [
        ['no params at all', {}, state, false, /conv2d 'conv': params\.weight: expected a tensor, got undefined/],
        ['a missing bias', { ...p, conv: { weight: p.conv.weight } }, state, false, /conv2d 'conv': params\.bias: expected a tensor, got undefined/],
        ['a missing dense weight', { ...p, head: { bias: p.head.bias } }, state, false, /dense 'head': params\.weight: expected a tensor, got undefined/],
        ['missing BatchNorm statistics', params, { ...s, bn: {} }, true, /batchNorm 'bn': state\.mean: expected a tensor, got undefined/],
        ['a disposed tensor', { ...p, bn: { ...p.bn, gamma: disposed } }, state, false, null],
      ] as const
    ) {
      if (pattern === null) {
        assert.throws(() => model.apply(ps, ss, x, { training }), /batchNorm 'bn': params\.gamma: expected a tensor, got a disposed tensor/, what);
      } else {
        assert.throws(() => model.apply(ps, ss, x, { training, key: prngKey(1) }), (e: unknown) => e instanceof LayerError && pattern.test(e.message), what);
      }
      assert.equal(tf.memory().numTensors, before, `${what}: leaked`);
    }
    x.dispose();
    disposeTree(params);
    disposeTree(state);
  });
});
