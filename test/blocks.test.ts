import { assertClose, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  convLayer,
  countParams,
  disposeTree,
  evalCtx,
  flattenTree,
  formatSummary,
  plainNet,
  prngKey,
  resBlock,
  resNet,
  resNet2,
  summary,
  trainCtx,
} from '../mod.ts';

const paths = (tree: Parameters<typeof flattenTree>[0]) => flattenTree(tree).map(([p, t]) => `${p} ${t.shape.join('x')}`);

describe('blocks', () => {
  test('convLayer inference with BatchNorm folded into the conv equals the unfolded layer', async () => {
    const { selectBackend, normal, mapTree } = await import('../mod.ts');
    for (const backend of ['cpu', 'wasm'] as const) {
      await selectBackend({ backend });
      fc.assert(
        fc.property(
          fc.record({
            ni: fc.integer({ min: 1, max: 4 }),
            nf: fc.integer({ min: 1, max: 4 }),
            ks: fc.constantFrom(1, 3),
            stride: fc.constantFrom(1, 2),
            act: fc.constantFrom('relu' as const, 'none' as const),
            h: fc.integer({ min: 2, max: 7 }),
            seed: fc.nat(),
          }),
          (r) =>
            tf.tidy(() => {
              const layer = convLayer(r.ni, r.nf, { ks: r.ks, stride: r.stride, act: r.act });
              const init = layer.init(prngKey(r.seed), [r.h, r.h, r.ni]);
              // Non-trivial BatchNorm parameters and statistics.
              const jitter = (t: tf.Tensor, k: number) => tf.add(t, tf.abs(tf.tensor(normal(prngKey(r.seed + k), t.size), t.shape)));
              const params = mapTree(init.params, (t, p) => (p.startsWith('bn') ? jitter(t, 1) : t));
              const state = mapTree(init.state, (t) => jitter(t, 2));
              const x = tf.tensor4d(normal(prngKey(r.seed + 3), 2 * r.h * r.h * r.ni), [2, r.h, r.h, r.ni]);
              const folded = layer.apply(params, state, x, evalCtx).y as tf.Tensor;
              // Under a gradient tape the layer takes its ordinary path.
              let plain: tf.Tensor | undefined;
              tf.grad((xx: tf.Tensor) => {
                plain = tf.keep(layer.apply(params, state, xx, evalCtx).y as tf.Tensor);
                return tf.sum(plain);
              })(x);
              assertClose(folded.dataSync(), plain!.dataSync(), 1e-4, `${backend} convLayer`);
              plain!.dispose();
            }),
        ),
        { numRuns: 20 },
      );
    }
    await tf.setBackend('cpu');
  });

  test('convLayer is conv (no bias, padding ks//2) then batchNorm', () => {
    const { params, outShape } = convLayer(3, 8, { stride: 2 }).init(prngKey(0), [7, 7, 3]);
    assert.deepEqual(paths(params), ['bn.beta 8', 'bn.gamma 8', 'conv.weight 3x3x3x8']);
    assert.deepEqual(outShape, [4, 4, 8]);
    disposeTree(params);
  });

  test('resBlock params follow the book: convs (BatchZero on the second), 1x1 idconv, no bias', () => {
    const { params, state } = resBlock(4, 8, 2).init(prngKey(0), [9, 9, 4]);
    assert.deepEqual(paths(params), [
      '1.idconv.bn.beta 8',
      '1.idconv.bn.gamma 8',
      '1.idconv.conv.weight 1x1x4x8',
      'convs.0.bn.beta 8',
      'convs.0.bn.gamma 8',
      'convs.0.conv.weight 3x3x4x8',
      'convs.1.bn.beta 8',
      'convs.1.bn.gamma 8',
      'convs.1.conv.weight 3x3x8x8',
    ]);
    const gammas = Object.fromEntries(flattenTree(params).filter(([p]) => p.endsWith('gamma')).map(([p, t]) => [p, Array.from(t.dataSync())]));
    assert.deepEqual(gammas['convs.1.bn.gamma'], new Array(8).fill(0));
    assert.deepEqual(gammas['convs.0.bn.gamma'], new Array(8).fill(1));
    assert.deepEqual(gammas['1.idconv.bn.gamma'], new Array(8).fill(1));
    disposeTree(params);
    disposeTree(state);
    // ni == nf and stride 1: no idconv, no pool, so no shortcut params.
    const same = resBlock(8, 8).init(prngKey(0), [5, 5, 8]);
    assert.ok(paths(same.params).every((p) => p.startsWith('convs.')));
    disposeTree(same.params);
    disposeTree(same.state);
  });

  test('a strided resBlock averages the shortcut over 2x2 windows in ceil mode', () => {
    // ni == nf, stride 2: shortcut is avgPool only; at init the block is relu(avgPool(x) + 1e-3), 1e-3 the BatchZero's bias (fastai's).
    const block = resBlock(1, 1, 2);
    const { params, state } = block.init(prngKey(0), [3, 3, 1]);
    const x = tf.tensor([1, -2, 3, 4, 5, -6, 7, 8, 9], [1, 3, 3, 1]);
    const y = block.apply(params, state, x, evalCtx).y as tf.Tensor;
    assertClose(y.dataSync(), [2 + 1e-3, 0, 7.5 + 1e-3, 9 + 1e-3]);
    [x, y].forEach((t) => t.dispose());
    disposeTree(params);
    disposeTree(state);
  });

  test('chapter-14 models: shapes and parameter counts computed by hand', () => {
    const conv = (ni: number, nf: number, ks = 3) => ks * ks * ni * nf + 2 * nf; // conv weight + bn gamma/beta
    const chans = [1, 16, 32, 64, 128, 256];
    const head = 256 * 10 + 10;
    const pairs = chans.slice(1).map((nf, i) => [chans[i], nf]);
    const plain = pairs.reduce((n, [ni, nf]) => n + conv(ni, nf), head);
    const res1 = (ni: number, nf: number) => conv(ni, nf) + conv(nf, nf) + (ni === nf ? 0 : conv(ni, nf, 1));
    const res = pairs.reduce((n, [ni, nf]) => n + res1(ni, nf), head);
    const res2 = pairs.reduce((n, [ni, nf]) => n + res1(ni, nf) + res1(nf, nf), head);
    for (const [build, expected] of [[plainNet, plain], [resNet, res], [resNet2, res2]] as const) {
      const model = build({ nIn: 1, nClasses: 10 });
      const { params, state, outShape } = model.init(prngKey(0), [28, 28, 1]);
      assert.deepEqual(outShape, [10]);
      assert.equal(countParams(params), expected);
      const x = tf.zeros([2, 28, 28, 1]);
      const r = model.apply(params, state, x, trainCtx());
      assert.deepEqual((r.y as tf.Tensor).shape, [2, 10]);
      [x, r.y as tf.Tensor].forEach((t) => t.dispose());
      [params, state, r.state].forEach(disposeTree);
    }
  });

  test('firstStride 1 keeps resolution in the first stage', () => {
    const s = summary(resNet({ nIn: 1, nClasses: 10, firstStride: 1 }), [28, 28, 1]);
    assert.deepEqual(s.rows.find((r) => r.path === 'blocks.0')?.outShape, [28, 28, 16]);
    assert.deepEqual(s.rows.find((r) => r.path === 'blocks.4')?.outShape, [2, 2, 256]);
  });

  test('summary lists paths, output shapes and parameter counts', () => {
    const s = summary(resNet({ nIn: 1, nClasses: 10 }), [28, 28, 1]);
    const text = formatSummary(s);
    assert.match(text, /blocks\.2\.convs\.1\.bn\s+batchNorm\s+\[\*, 4, 4, 64\]\s+128/);
    assert.match(text, /head\s+dense\s+\[\*, 10\]\s+2,570/);
    assert.match(text, new RegExp(`total params: ${s.total.toLocaleString('en-US')}`));
  });
});
