import { runs, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { laws } from '../mod.ts';

// Every general law over every family of built-in layers, combinators and blocks.
const families: [string, () => fc.Arbitrary<laws.LayerCase>, number][] = [
  ['conv2d', laws.arbConv2dCase, 40],
  ['dense', laws.arbDenseCase, 20],
  ['batchNorm', laws.arbBatchNormCase, 25],
  ['pooling', laws.arbPoolCase, 30],
  ['parameter-free layers', laws.arbSimpleCase, 30],
  ['combinators', laws.arbCombinatorCase, 25],
  ['convLayer', laws.arbConvLayerCase, 25],
  ['resBlock', laws.arbResBlockCase, 25],
  ['chapter-14 models', laws.arbModelCase, 6],
];

describe('laws hold for every layer, combinator and block', () => {
  for (const [name, arb, n] of families) {
    test(`${name}: shape`, () => fc.assert(laws.shapeProperty(arb()), runs(n)));
    test(`${name}: purity`, () => fc.assert(laws.purityProperty(arb()), runs(n)));
    test(`${name}: determinism`, () => fc.assert(laws.determinismProperty(arb()), runs(n)));
    test(`${name}: gradient`, () => fc.assert(laws.gradientProperty(arb()), runs(n)));
    test(`${name}: gradient in eval mode`, () => fc.assert(laws.gradientProperty(arb(), { training: false }), runs(Math.ceil(n / 2))));
    test(`${name}: no leak`, () => fc.assert(laws.noLeakProperty(arb()), runs(n)));
  }
});

describe('residual laws', () => {
  test('resBlock(ni, nf, s) maps [b, h, w, ni] to [b, ceil(h/s), ceil(w/s), nf]', () =>
    fc.assert(laws.resBlockShapeProperty(laws.arbResBlockParams({ maxSize: 9 })), runs(40)));
  test('at init a resBlock equals relu(idconv(pool(x)))', () =>
    fc.assert(laws.resBlockAtInitProperty(laws.arbResBlockParams()), runs(40)));
  test('with ni == nf and stride 1 a resBlock at init equals relu(x)', () =>
    fc.assert(laws.resBlockIdentityProperty(laws.arbResBlockParams({ sameChannels: true, stride: 1 })), runs(30)));
  test('the laws leave no tensors behind', () => {
    const before = tf.memory().numTensors;
    fc.assert(laws.allProperty(laws.arbAnyCase()), runs(10));
    assert.equal(tf.memory().numTensors, before);
  });
});
