import { assertThrowsWith, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  add,
  avgPool,
  batchNorm,
  ConfigError,
  conv2d,
  convLayer,
  dense,
  disposeTree,
  dropout,
  evalCtx,
  maxPool,
  prngKey,
  resBlock,
  resNet,
  serial,
  ShapeError,
  withLabel,
} from '../mod.ts';

describe('bad configurations fail at construction, naming the field and value', () => {
  test('conv2d', () => {
    const e = assertThrowsWith(() => conv2d({ nf: 8, stride: 0 }), 'conv2d.stride: expected positive integer, got 0');
    assert.ok(e instanceof ConfigError);
    assertThrowsWith(() => conv2d({ nf: 2.5 }), 'conv2d.nf: expected positive integer, got 2.5');
    assertThrowsWith(() => conv2d({ nf: 2, padding: 'full' as never }), 'conv2d.padding', '"full"');
    assertThrowsWith(() => conv2d({ nf: 2, kernel: 3 } as never), 'conv2d.kernel: unknown option');
    assertThrowsWith(() => conv2d(undefined as never), 'conv2d.nf: expected positive integer, got undefined');
  });

  test('other layers and blocks', () => {
    assertThrowsWith(() => dense({ nf: -1 }), 'dense.nf: expected positive integer, got -1');
    assertThrowsWith(() => batchNorm({ momentum: 1.5 }), 'batchNorm.momentum: expected number in [0, 1), got 1.5');
    assertThrowsWith(() => batchNorm({ eps: 0 }), 'batchNorm.eps: expected positive number, got 0');
    assertThrowsWith(() => batchNorm({ init: 'half' as never }), 'batchNorm.init', '"half"');
    assertThrowsWith(() => avgPool({ size: 0 }), 'avgPool.size: expected positive integer, got 0');
    assertThrowsWith(() => maxPool({ size: 2, ceilMode: 'yes' as never }), 'maxPool.ceilMode', '"yes"');
    assertThrowsWith(() => dropout({ rate: 1 }), 'dropout.rate: expected number in [0, 1), got 1');
    assertThrowsWith(() => convLayer(3, 8, { act: 'swish' as never }), "convLayer.act: expected one of 'none', 'relu'", '"swish"');
    assertThrowsWith(() => resBlock(3, 8, 0), 'resBlock.stride: expected positive integer, got 0');
    assertThrowsWith(() => resNet({ nIn: 1, nClasses: 0 }), 'resNet.nClasses: expected positive integer, got 0');
    assertThrowsWith(() => serial(withLabel('a', dense({ nf: 1 })), withLabel('a', dense({ nf: 1 }))), "two children share the key 'a'");
    assertThrowsWith(() => serial({} as never), 'serial: child 0 is not a layer');
    assertThrowsWith(() => withLabel('2x', dense({ nf: 1 })), 'withLabel.label: expected an identifier');
  });
});

describe('shape errors name the layer path and both shapes', () => {
  test('init: a dense layer after a conv without flatten', () => {
    const model = serial(withLabel('body', serial(conv2d({ nf: 4 }))), withLabel('head', dense({ nf: 2 })));
    const e = assertThrowsWith(() => model.init(prngKey(0), [8, 8, 1]), "dense 'head': expected input shape [*, *], got [*, 8, 8, 4]", 'flatten');
    assert.ok(e instanceof ShapeError);
    assert.deepEqual((e as ShapeError).path, ['head']);
  });

  test('init: channels that disagree with convLayer(ni, ...)', () => {
    const model = serial(withLabel('blocks', serial(resBlock(1, 4, 2), resBlock(8, 8, 2))));
    assertThrowsWith(() => model.init(prngKey(0), [8, 8, 1]), "conv2d 'blocks.1.convs.0.conv': expected input shape [*, *, *, 8], got [*, 4, 4, 4]");
  });

  test('init: branches of add that disagree', () => {
    const bad = add(withLabel('a', conv2d({ nf: 4 })), withLabel('b', conv2d({ nf: 5 })));
    assertThrowsWith(() => bad.init(prngKey(0), [4, 4, 1]), "add '<root>': branch 'a' gives [*, 4, 4, 4] but branch 'b' gives [*, 4, 4, 5]");
  });

  test('apply: an input with the wrong channels deep inside a model', () => {
    const model = resNet({ nIn: 1, nClasses: 10, channels: [4, 8] });
    const { params, state } = model.init(prngKey(0), [8, 8, 1]);
    const x = tf.zeros([2, 8, 8, 3]);
    assertThrowsWith(() => model.apply(params, state, x, evalCtx), "conv2d 'blocks.0.convs.0.conv': expected input [*, *, *, 1], got [2, 8, 8, 3]");
    const flat = tf.zeros([2, 64]);
    assertThrowsWith(() => model.apply(params, state, flat, evalCtx), "conv2d 'blocks.0.convs.0.conv': expected input [*, *, *, 1], got [2, 64]");
    [x, flat].forEach((t) => t.dispose());
    disposeTree(params);
    disposeTree(state);
  });

  test('apply: batch norm in training needs more than one value per channel', () => {
    const bn = batchNorm();
    const { params, state } = bn.init(prngKey(0), [3]);
    const x = tf.zeros([1, 3]);
    assertThrowsWith(() => bn.apply(params, state, x, { training: true }), 'training needs more than one value per channel, got input [1, 3]');
    x.dispose();
    disposeTree(params);
    disposeTree(state);
  });

  test('init: an input too small for the kernel', () => {
    assertThrowsWith(() => conv2d({ nf: 1, ks: 5, padding: 'valid' }).init(prngKey(0), [3, 3, 1]), 'is too small for kernel 5');
  });
});
