/**
 * The end of chapter 14: the stem, bottleneck blocks and `resNetArch`, with
 * parameter counts against torchvision's published figures (its stem, one
 * 7×7 conv) and against a count by formula for the book's 32-32-64 stem.
 */
import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bottleneckBlock,
  ConfigError,
  countParams,
  disposeTree,
  evalCtx,
  flattenTree,
  prngKey,
  resnet18,
  resnet34,
  resnet50,
  resNetArch,
  resnetStem,
} from '../mod.ts';

const paramsOf = (layer: ReturnType<typeof resNetArch>, inShape: number[]) => {
  const { params, state, outShape } = layer.init(prngKey(0), inShape);
  const n = countParams(params);
  disposeTree({ params, state });
  return { n, outShape };
};

/** The book's ResNet counted by hand: conv k·k·ci·co (no bias) + BatchNorm 2·co per ConvLayer, then the head. */
const bookCount = (nIn: number, nOut: number, layers: number[], expansion: number, stem = [32, 32, 64], stemKs = 3): number => {
  const conv = (ci: number, co: number, k: number) => k * k * ci * co + 2 * co;
  let n = 0, c = nIn;
  stem.forEach((s, i) => (n += conv(c, s, i === 0 ? stemKs : 3), c = s));
  const sizes = [c, ...[64, 128, 256, 512].map((s) => s * expansion)];
  layers.forEach((count, idx) => {
    for (let i = 0; i < count; i++) {
      const ni = i === 0 ? sizes[idx] : sizes[idx + 1], nf = sizes[idx + 1], nh = nf / 4;
      n += expansion === 1 ? conv(ni, nf, 3) + conv(nf, nf, 3) : conv(ni, nh, 1) + conv(nh, nh, 3) + conv(nh, nf, 1);
      if (ni !== nf) n += conv(ni, nf, 1);
    }
  });
  return n + sizes[layers.length] * nOut + nOut;
};

describe("chapter 14's ResNet", () => {
  test("with torchvision's stem (3 input channels, 1000 classes), resnet18/34/50 have torchvision's published parameter counts", () => {
    const tv = { nIn: 3, stem: [64], stemKs: 7 };
    assert.equal(paramsOf(resnet18(1000, tv), [64, 64, 3]).n, 11_689_512);
    assert.equal(paramsOf(resnet34(1000, tv), [64, 64, 3]).n, 21_797_672);
    assert.equal(paramsOf(resnet50(1000, tv), [64, 64, 3]).n, 25_557_032);
  });

  test("with the book's stem they have the counts computed by hand: 11,708,744 / 21,816,904 / 25,576,264 (3 channels, 1000 classes)", () => {
    for (
      const [f, layers, expansion, expected] of [
        [resnet18, [2, 2, 2, 2], 1, 11_708_744],
        [resnet34, [3, 4, 6, 3], 1, 21_816_904],
        [resnet50, [3, 4, 6, 3], 4, 25_576_264],
      ] as const
    ) {
      assert.equal(bookCount(3, 1000, [...layers], expansion), expected);
      assert.equal(paramsOf(f(1000), [64, 64, 3]).n, expected);
      // Fashion-MNIST's configuration: 1 channel, 10 classes.
      assert.equal(paramsOf(f(10, { nIn: 1 }), [28, 28, 1]).n, bookCount(1, 10, [...layers], expansion));
    }
  });

  test('the stem quarters the size: a stride-2 first conv, then a 3×3 max pool with stride 2 and padding 1', () => {
    const stem = resnetStem(3, 32, 32, 64);
    const { params, state, outShape } = stem.init(prngKey(0), [28, 28, 3]);
    assert.deepEqual(outShape, [7, 7, 64]);
    assert.deepEqual(flattenTree(params).filter(([p]) => p.endsWith('weight')).map(([p, t]) => `${p} ${t.shape.join('x')}`), [
      '0.conv.weight 3x3x3x32',
      '1.conv.weight 3x3x32x32',
      '2.conv.weight 3x3x32x64',
    ]);
    const x = tf.randomNormal([2, 28, 28, 3], 0, 1, 'float32', 3);
    const y = stem.apply(params, state, x, evalCtx).y as tf.Tensor;
    assert.deepEqual(y.shape, [2, 7, 7, 64]);
    tf.dispose([x, y]);
    disposeTree({ params, state });
    assert.throws(() => resnetStem(3), (e: unknown) => e instanceof ConfigError && /resnetStem\.sizes: expected at least 2 channel counts/.test(e.message));
  });

  test('a bottleneck block is 1×1 → 3×3 (with the stride) → 1×1 at nf/4 channels, BatchZero last, and the ResBlock shortcut', () => {
    const { params, state, outShape } = bottleneckBlock(64, 256, 2).init(prngKey(0), [9, 9, 64]);
    assert.deepEqual(outShape, [5, 5, 256]);
    const weights = flattenTree(params).filter(([p]) => p.endsWith('weight')).map(([p, t]) => `${p} ${t.shape.join('x')}`);
    assert.deepEqual(weights, [
      '1.idconv.conv.weight 1x1x64x256',
      'convs.0.conv.weight 1x1x64x64',
      'convs.1.conv.weight 3x3x64x64',
      'convs.2.conv.weight 1x1x64x256',
    ]);
    assert.ok(Array.from(flattenTree(params).find(([p]) => p === 'convs.2.bn.gamma')![1].dataSync()).every((v) => v === 0));
    disposeTree({ params, state });
    assert.throws(() => bottleneckBlock(8, 3), /bottleneckBlock\.nf: expected at least 4/);
  });

  test('resNetArch: stages of blocks, stride 1 first and 2 after; a forward pass gives the classes; bad arguments are ConfigErrors', () => {
    const model = resNetArch(10, [2, 1], { nIn: 1, stem: [8, 16] });
    const { params, state, outShape } = model.init(prngKey(0), [28, 28, 1]);
    assert.deepEqual(outShape, [10]);
    const stages = [...new Set(flattenTree(params).map(([p]) => p.split('.').slice(0, 3).join('.')).filter((p) => p.startsWith('stages')))];
    assert.deepEqual(stages, ['stages.0.0', 'stages.0.1', 'stages.1.0']);
    const x = tf.randomNormal([2, 28, 28, 1], 0, 1, 'float32', 4);
    const y = model.apply(params, state, x, evalCtx).y as tf.Tensor;
    assert.deepEqual(y.shape, [2, 10]);
    tf.dispose([x, y]);
    disposeTree({ params, state });
    for (
      const [f, pattern] of [
        [() => resNetArch(10, []), /resNetArch\.layers: expected 1 to 4 stages, got 0/],
        [() => resNetArch(10, [2, 0]), /resNetArch\.layers/],
        [() => resNetArch(0, [2]), /resNetArch\.nOut/],
        [() => resNetArch(10, [2], { expansion: 0 }), /resNetArch\.expansion/],
        [() => resNetArch(10, [2], { stem: [] }), /resNetArch\.stem\.sizes: expected at least 2/],
        [() => resNetArch(10, [2], { widths: [1] } as never), /resNetArch.*widths/],
      ] as const
    ) assert.throws(f, (e: unknown) => e instanceof ConfigError && pattern.test(e.message), String(pattern));
  });
});
