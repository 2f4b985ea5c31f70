/**
 * Each law must be able to fail: a law that cannot fail checks nothing.
 * Every test here breaks a layer on purpose and expects the law to catch it.
 */
import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type AnyLayer, conv2d, dense, laws, type Layer, relu, type Tree } from '../mod.ts';

const good = dense({ nf: 3 });
const caseOf = (layer: AnyLayer): laws.LayerCase => ({ layer, inShape: [4], batch: 2, seed: 1, label: 'broken' });
const expectLaw = (f: () => void, pattern: RegExp) => assert.throws(f, (e: unknown) => e instanceof laws.LawError && pattern.test(e.message));

describe('every law catches a broken layer', () => {
  test('shape: apply disagrees with init', () => {
    const broken: AnyLayer = { ...good, apply: (p, s, x, c) => ({ y: tf.concat([good.apply(p, s, x, c).y as tf.Tensor, tf.zeros([2, 1])], 1), state: s }) };
    expectLaw(() => laws.checkShape(caseOf(broken)), /shape law fails for broken.*gives \[\[2,4\]\], init says \[\[2,3\]\]/);
    assert.throws(() => fc.assert(laws.shapeProperty(fc.constant(caseOf(broken))), { numRuns: 1 }));
  });

  test('purity: apply mutates its input state', () => {
    // A "running mean" updated in place, through a tf.Variable's assign.
    const v = tf.variable(tf.zeros([3]));
    const broken: Layer<Tree, { m: tf.Tensor }> = {
      name: 'inPlace',
      init: (k, s) => ({ ...good.init(k, s), state: { m: v } }),
      apply: (p, s, x, c) => {
        (s.m as tf.Variable).assign(tf.add(s.m, 1));
        return { y: good.apply(p as never, {}, x, c).y, state: s };
      },
    };
    expectLaw(() => laws.checkPurity(caseOf(broken)), /purity law fails.*changed input tensor/);
    v.dispose();
  });

  test('purity: apply disposes its input', () => {
    const broken: AnyLayer = { ...relu, name: 'disposer', init: relu.init, apply: (_p, s, x) => {
      const y = tf.relu(x as tf.Tensor);
      (x as tf.Tensor).dispose();
      return { y, state: s };
    } };
    expectLaw(() => laws.checkPurity(caseOf(broken)), /purity law fails.*disposed input tensor/);
  });

  test('determinism: init ignores the key', () => {
    const broken: AnyLayer = { ...good, init: (_k, s) => good.init([Math.floor(Math.random() * 1e9), 7] as never, s) };
    expectLaw(() => laws.checkDeterminism(caseOf(broken)), /determinism law fails.*same key gave different params/);
    const constant: AnyLayer = { ...good, init: (_k, s) => good.init([1, 2] as never, s) };
    expectLaw(() => laws.checkDeterminism(caseOf(constant)), /different keys gave equal params/);
  });

  test('gradient: a wrong custom gradient', () => {
    const badSquare = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor, save = args[1] as tf.GradSaveFunc;
      save([x]);
      // True derivative is 2x; this claims 3x.
      return { value: tf.square(x), gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => tf.mul(dy, tf.mul(saved, 3)) };
    });
    const broken: AnyLayer = { ...good, apply: (p, s, x, c) => ({ y: badSquare(good.apply(p, s, x, c).y as tf.Tensor) as tf.Tensor, state: s }) };
    expectLaw(() => laws.checkGradient(caseOf(broken)), /gradient law fails.*autodiff .* finite difference/);
  });

  test('no leak: apply keeps a stray tensor', () => {
    const stray: tf.Tensor[] = [];
    const broken: AnyLayer = { ...good, apply: (p, s, x, c) => {
      stray.push(tf.keep(tf.zeros([1])));
      return good.apply(p, s, x, c);
    } };
    expectLaw(() => laws.checkNoLeak(caseOf(broken)), /no-leak law fails.*left \d+ tensors behind/);
    stray.forEach((t) => t.dispose());
  });

  test('residual laws catch a block without BatchZero', () => {
    // A "resBlock" whose body is not zero at init cannot equal relu(x).
    const notZero = conv2d({ nf: 2, ks: 3 });
    const c = { layer: notZero, inShape: [4, 4, 2], batch: 2, seed: 0 };
    assert.doesNotThrow(() => laws.checkShape(c));
    assert.throws(() => laws.checkResBlockIdentity({ ni: 2, nf: 3, stride: 1, h: 3, w: 3, batch: 2, seed: 0 }), /needs ni === nf and stride 1/);
  });
});
