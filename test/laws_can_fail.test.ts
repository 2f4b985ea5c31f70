/**
 * Each law must be able to fail: a law that cannot fail checks nothing.
 * Every test here breaks a layer on purpose and expects the law to catch it.
 * The laws are async, so each expectation awaits a rejection: an assertion
 * on a promise that nobody awaits would pass whatever the law found.
 */
import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as laws from '../laws.ts';
import { add, type AnyLayer, avgPool, convLayer, dense, identity, type Layer, pointwise, relu, serial, type Tree, withLabel } from '../mod.ts';

const good = dense({ nf: 3 });
const caseOf = (layer: AnyLayer): laws.LayerCase => ({ layer, inShape: [4], batch: 2, seed: 1, label: 'broken' });
const expectLaw = (f: () => Promise<void>, pattern: RegExp) => assert.rejects(f, (e: unknown) => e instanceof laws.LawError && pattern.test(e.message));
/** The property over the one broken case fails too: `fc.assert` of the async property rejects, caused by the LawError. */
const expectProperty = (p: fc.IAsyncPropertyWithHooks<[laws.LayerCase]>) =>
  assert.rejects(() => fc.assert(p, { numRuns: 1 }), (e: unknown) => e instanceof Error && e.cause instanceof laws.LawError);
const once = (layer: AnyLayer) => fc.constant(caseOf(layer));

describe('every law catches a broken layer', () => {
  test('shape: apply disagrees with init', async () => {
    const broken: AnyLayer = { ...good, apply: (p, s, x, c) => ({ y: tf.concat([good.apply(p, s, x, c).y as tf.Tensor, tf.zeros([2, 1])], 1), state: s }) };
    await expectLaw(() => laws.checkShape(caseOf(broken)), /shape law fails for broken.*gives \[\[2,4\]\], init says \[\[2,3\]\]/);
    await expectProperty(laws.shapeProperty(once(broken)));
  });

  test('purity: apply mutates its input state', async () => {
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
    await expectLaw(() => laws.checkPurity(caseOf(broken)), /purity law fails.*changed input tensor/);
    v.dispose();
  });

  test('purity: apply disposes its input', async () => {
    const broken: AnyLayer = {
      ...relu,
      name: 'disposer',
      init: relu.init,
      apply: (_p, s, x) => {
        const y = tf.relu(x as tf.Tensor);
        (x as tf.Tensor).dispose();
        return { y, state: s };
      },
    };
    await expectLaw(() => laws.checkPurity(caseOf(broken)), /purity law fails.*disposed input tensor/);
    await expectProperty(laws.purityProperty(once(broken)));
  });

  test('determinism: init ignores the key', async () => {
    const broken: AnyLayer = { ...good, init: (_k, s) => good.init([Math.floor(Math.random() * 1e9), 7] as never, s) };
    await expectLaw(() => laws.checkDeterminism(caseOf(broken)), /determinism law fails.*same key gave different params/);
    const constant: AnyLayer = { ...good, init: (_k, s) => good.init([1, 2] as never, s) };
    await expectLaw(() => laws.checkDeterminism(caseOf(constant)), /different keys gave equal params/);
    await expectProperty(laws.determinismProperty(once(constant)));
  });

  test('gradient: a wrong custom gradient', async () => {
    const badSquare = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor, save = args[1] as tf.GradSaveFunc;
      save([x]);
      // True derivative is 2x; this claims 3x.
      return { value: tf.square(x), gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => tf.mul(dy, tf.mul(saved, 3)) };
    });
    const broken: AnyLayer = { ...good, apply: (p, s, x, c) => ({ y: badSquare(good.apply(p, s, x, c).y as tf.Tensor) as tf.Tensor, state: s }) };
    await expectLaw(() => laws.checkGradient(caseOf(broken)), /gradient law fails.*autodiff .* finite difference/);
    await expectProperty(laws.gradientProperty(once(broken)));
    await expectLaw(() => laws.checkAll(caseOf(broken)), /gradient law fails/);
    await expectProperty(laws.allProperty(once(broken)));
  });

  test('no leak: apply keeps a stray tensor', async () => {
    const stray: tf.Tensor[] = [];
    const broken: AnyLayer = {
      ...good,
      apply: (p, s, x, c) => {
        stray.push(tf.keep(tf.zeros([1])));
        return good.apply(p, s, x, c);
      },
    };
    await expectLaw(() => laws.checkNoLeak(caseOf(broken)), /no-leak law fails.*left \d+ tensors behind/);
    await expectProperty(laws.noLeakProperty(once(broken)));
    stray.forEach((t) => t.dispose());
  });

  test('no leak: apply leaves its intermediates when called outside tf.tidy', async () => {
    // Two ops, no tidy: the first result is an intermediate nobody disposes.
    const broken: AnyLayer = { ...relu, name: 'untidy', init: relu.init, apply: (_p, s, x) => ({ y: tf.relu(tf.mul(x as tf.Tensor, 2)), state: s }) };
    await expectLaw(() => laws.checkNoLeak(caseOf(broken)), /no-leak law fails for broken.*apply outside tf\.tidy left 1 tensors behind/);
  });

  test('NaN: a layer that maps NaN to 0', async () => {
    const broken = pointwise('nanToZero', (x) => tf.where(tf.isNaN(x), tf.zerosLike(x), x));
    await expectLaw(() => laws.checkNanPropagation(caseOf(broken)), /NaN law fails for broken.*set to NaN gives the finite 0/);
    await expectProperty(laws.nanPropagationProperty(once(broken)));
  });

  test("NaN: a max that skips NaN (as tfjs's cpu max pool did), on a finite output that the NaN reached", async () => {
    // Over the features of each example: NaN loses every comparison, so max ignores it.
    const skipNan = pointwise('skipNanMax', (x) =>
      tf.tidy(() => {
        const clean = tf.where(tf.isNaN(x), tf.fill(x.shape, -Infinity), x);
        return tf.tile(tf.max(clean, 1, true), [1, x.shape[1]!]);
      }));
    await expectLaw(() => laws.checkNanPropagation(caseOf(skipNan)), /NaN law fails for broken/);
    // A correct max, NaN winning, passes.
    const nanMax = pointwise('nanMax', (x) => tf.tile(tf.max(x, 1, true), [1, x.shape[1]!]));
    await assert.doesNotReject(() => laws.checkNanPropagation(caseOf(nanMax)));
  });
});

// A user's block in fastai's layout, with a switch per way to break it.
interface Breakage {
  readonly ignoreStride?: boolean; // the residual branch and the shortcut both ignore the stride: wrong output shape
  readonly noBatchZero?: boolean; // the last BatchNorm starts at gamma = 1: not relu(shortcut(x) + b) at init
  readonly noFinalRelu?: boolean; // convs + shortcut, no relu at the end: not relu(x) at init
  readonly addTwice?: boolean; // relu(convs + 2 shortcut): not relu(x) at init
  readonly ignoreShortcut?: boolean; // the shortcut's output is multiplied by zero
}
const userBlock = (b: Breakage = {}) => (ni: number, nf: number, stride: number): AnyLayer => {
  const s = b.ignoreStride ? 1 : stride;
  const convs = withLabel('convs', serial(convLayer(ni, nf, { stride: s }), convLayer(nf, nf, { act: 'none', bnInit: b.noBatchZero ? 'one' : 'zero' })));
  const idconv = withLabel('idconv', ni === nf ? identity : convLayer(ni, nf, { ks: 1, act: 'none' }));
  const pool = withLabel('pool', s === 1 ? identity : avgPool({ size: 2, ceilMode: true }));
  const times = (k: number): AnyLayer => ({
    name: `times${k}`,
    init: (_k, inShape) => ({ params: {}, state: {}, outShape: inShape }),
    apply: (_p, state, x) => ({ y: tf.mul(x as tf.Tensor, k), state }),
  });
  const shortcut = b.ignoreShortcut ? serial(pool, idconv, times(0)) : b.addTwice ? serial(pool, idconv, times(2)) : serial(pool, idconv);
  const sum = add(convs, shortcut);
  return b.noFinalRelu ? sum : relu(sum);
};
const strided = { ni: 3, nf: 4, stride: 2, h: 5, w: 5, batch: 2, seed: 0 };
const same = { ni: 3, nf: 3, stride: 1, h: 4, w: 4, batch: 2, seed: 0 };
const residualCases = fc.constantFrom(strided, same, { ...same, ni: 2, nf: 5 });
const named = (name: string, block: laws.BlockFactory): laws.ResidualBlock => ({ block, name });

describe('every residual law catches a broken user block', () => {
  test('the unbroken user block passes every residual law', async () => {
    for (const c of [strided, same]) await assert.doesNotReject(() => laws.checkResidual(named('userBlock', userBlock()), c));
  });

  test('shape: a block that ignores its stride', async () => {
    const broken = named('ignoresStride', userBlock({ ignoreStride: true }));
    await expectLaw(
      () => laws.checkResidualShape(broken, strided),
      /residual shape law fails for ignoresStride\(3, 4, 2\) on \[2, 5, 5, 3\]: init gives \[5,5,4\], expected \[3,3,4\]/,
    );
    await assert.doesNotReject(() => laws.checkResidualShape(broken, same));
    await assert.rejects(() => fc.assert(laws.residualShapeProperty(broken, fc.constant(strided)), { numRuns: 1 }));
  });

  test("at init: the second ConvLayer's BatchNorm is not zero-initialised", async () => {
    const broken = named('noBatchZero', userBlock({ noBatchZero: true }));
    await assert.doesNotReject(() => laws.checkResidualShape(broken, strided));
    await expectLaw(
      () => laws.checkResidualAtInit(broken, strided),
      /residual at-init law fails for noBatchZero\(3, 4, 2\).*eval output differs from relu\(shortcut\(x\) \+ b\).*zero-initialised/,
    );
    await assert.rejects(() => fc.assert(laws.residualAtInitProperty(broken, residualCases), { numRuns: 5 }));
  });

  test('identity: no relu at the end, or the shortcut added twice', async () => {
    for (const [name, b] of [['noFinalRelu', { noFinalRelu: true }], ['addsTwice', { addTwice: true }]] as const) {
      const broken = named(name, userBlock(b));
      await assert.doesNotReject(() => laws.checkResidualShape(broken, same));
      await expectLaw(
        () => laws.checkResidualIdentity(broken, same),
        new RegExp(`residual identity law fails for ${name}\\(3, 3, 1\\).*eval output differs from relu\\(x \\+ b\\)`),
      );
      await assert.rejects(() => fc.assert(laws.residualIdentityProperty(broken, residualCases), { numRuns: 5 }));
    }
    await assert.rejects(() => laws.checkResidualIdentity(userBlock(), strided), /needs ni === nf and stride 1/);
    await assert.rejects(() => laws.checkResBlockIdentity({ ni: 2, nf: 3, stride: 1, h: 3, w: 3, batch: 2, seed: 0 }), /needs ni === nf and stride 1/);
  });

  test('shortcut: a block that ignores its shortcut', async () => {
    const broken = named('ignoresShortcut', userBlock({ ignoreShortcut: true }));
    await assert.doesNotReject(() => laws.checkResidualShape(broken, strided));
    await expectLaw(
      () => laws.checkResidualShortcut(broken, strided),
      /residual shortcut law fails for ignoresShortcut\(3, 4, 2\).*noise to the shortcut's params at '1' left the eval output unchanged: the block ignores its shortcut/,
    );
    // With ni == nf the shortcut has no params: the input must reach the output at init.
    await expectLaw(() => laws.checkResidualShortcut(broken, same), /shortcut has no params, and negating the input left the eval output at init unchanged/);
    await assert.rejects(() => fc.assert(laws.residualShortcutProperty(broken, residualCases), { numRuns: 5 }));
  });

  test('a block that throws fails the law with the case named, and the laws leave no tensors behind', async () => {
    const throws = named('throws', (ni, nf, stride) => ({
      ...userBlock()(ni, nf, stride),
      apply: () => {
        throw new Error('boom');
      },
    }));
    await expectLaw(() => laws.checkResidualShape(throws, strided), /residual shape law fails for throws\(3, 4, 2\).*the block threw Error: boom/);
    const before = tf.memory().numTensors;
    for (const b of [{}, { ignoreStride: true }, { noBatchZero: true }, { noFinalRelu: true }, { addTwice: true }, { ignoreShortcut: true }]) {
      for (const c of [strided, same]) {
        try {
          await laws.checkResidual(named('leaky?', userBlock(b)), c);
        } catch (e) {
          if (!(e instanceof laws.LawError)) throw e;
        }
      }
    }
    try {
      await laws.checkResidualShape(throws, strided);
    } catch { /* expected */ }
    assert.equal(tf.memory().numTensors, before);
  });
});
