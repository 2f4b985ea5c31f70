import { runs, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as laws from '../laws.ts';
import { layerFamilies } from './fixtures/families.ts';
import { add, avgPool, bottleneckBlock, conv2d, convLayer, identity, relu, resBlock, serial, withKind, withLabel } from '../mod.ts';

// Every general law over every family of built-in layers, combinators and blocks.
// The laws are async (they read values with `await t.data()`, as WebGPU needs):
// each test returns or awaits its `fc.assert`, or it could never fail.
const families = layerFamilies;

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

// A user's block in fastai's layout: relu(convs(x) + idconv(pool(x))), the shortcut under '1'.
const myBlock = (ni: number, nf: number, stride: number) => {
  const convs = withLabel('convs', serial(convLayer(ni, nf, { stride }), convLayer(nf, nf, { act: 'none', bnInit: 'zero' })));
  const idconv = withLabel('idconv', ni === nf ? identity : convLayer(ni, nf, { ks: 1, act: 'none' }));
  const pool = withLabel('pool', stride === 1 ? identity : avgPool({ size: 2, ceilMode: true }));
  return relu(add(convs, serial(pool, idconv)));
};

// A user's block in a layout of its own: the shortcut is labelled 'skip', a
// plain 1x1 conv with a bias after the pool, and comes first in the add.
const skip = (ni: number, nf: number, stride: number) =>
  withLabel('skip', serial(stride === 1 ? identity : avgPool({ size: 2, ceilMode: true }), ni === nf ? identity : conv2d({ ni, nf, ks: 1 })));
const skipBlock = (ni: number, nf: number, stride: number) =>
  withKind(
    'skipBlock',
    relu(add(skip(ni, nf, stride), withLabel('body', serial(convLayer(ni, nf, { stride }), convLayer(nf, nf, { act: 'none', bnInit: 'zero' }))))),
  );
const skipSubject: laws.ResidualBlock = { block: skipBlock, shortcut: skip, shortcutPath: 'skip' };

describe('residual laws', () => {
  test('resBlock(ni, nf, s) maps [b, h, w, ni] to [b, ceil(h/s), ceil(w/s), nf]', () =>
    fc.assert(laws.resBlockShapeProperty(laws.arbResBlockParams({ maxSize: 9 })), runs(40)));
  test('at init a resBlock equals relu(idconv(pool(x)) + b)', () => fc.assert(laws.resBlockAtInitProperty(laws.arbResBlockParams()), runs(40)));
  test('with ni == nf and stride 1 a resBlock at init equals relu(x + b)', () =>
    fc.assert(laws.resBlockIdentityProperty(laws.arbResBlockParams({ sameChannels: true, stride: 1 })), runs(30)));
  test('resBlock uses its shortcut', () => fc.assert(laws.residualShortcutProperty(resBlock), runs(30)));

  for (
    const [name, subject] of [['resBlock', resBlock], ["a user block in fastai's layout", myBlock], [
      "a user block with its shortcut at 'skip'",
      skipSubject,
    ]] as const
  ) {
    test(`${name}: shape`, () => fc.assert(laws.residualShapeProperty(subject, laws.arbResBlockParams({ maxSize: 9 })), runs(20)));
    test(`${name}: at init equals relu(shortcut(x) + b)`, () => fc.assert(laws.residualAtInitProperty(subject), runs(20)));
    test(`${name}: with ni == nf and stride 1 equals relu(x + b) at init`, () => fc.assert(laws.residualIdentityProperty(subject), runs(15)));
    test(`${name}: uses its shortcut`, () => fc.assert(laws.residualShortcutProperty(subject), runs(20)));
    test(`${name}: every residual law, and the general laws`, async () => {
      await fc.assert(laws.residualProperty(subject, laws.arbResBlockParams({ maxSize: 6 })), runs(10));
      const block = typeof subject === 'function' ? subject : subject.block;
      await fc.assert(
        laws.allProperty(
          laws.arbResBlockParams({ maxSize: 6 }).map((c) => ({ layer: block(c.ni, c.nf, c.stride), inShape: [c.h, c.w, c.ni], batch: c.batch, seed: c.seed })),
        ),
        runs(4),
      );
    });
  }

  test("a bare factory means fastai's layout: a block laid out otherwise is told to say where its shortcut is", async () => {
    const c = { ni: 2, nf: 3, stride: 2, h: 4, w: 4, batch: 2, seed: 0 };
    await assert.rejects(
      laws.checkResidualAtInit(skipBlock, c),
      (e: unknown) =>
        e instanceof laws.LawError &&
        /residual at-init law fails for skipBlock\(2, 3, 2\).*params at '1' are \[\] but its shortcut's are \[.*idconv.*\].*shortcutPath/.test(e.message),
    );
    await laws.checkResidualAtInit(skipSubject, c);
  });

  test('the residual laws leave no tensors behind', async () => {
    const before = tf.memory().numTensors;
    for (const subject of [resBlock, myBlock, skipSubject]) {
      await fc.assert(laws.residualProperty(subject, laws.arbResBlockParams({ maxSize: 6 })), runs(5));
      await laws.checkResidual(subject, { ni: 3, nf: 3, stride: 1, h: 3, w: 3, batch: 2, seed: 5 });
    }
    assert.equal(tf.memory().numTensors, before);
  });

  test('the laws leave no tensors behind', async () => {
    const before = tf.memory().numTensors;
    await fc.assert(laws.allProperty(laws.arbAnyCase()), runs(10));
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('residual laws for the bottleneck block', () => {
  // Its middle conv has nf/4 channels: cases with ni, nf ≥ 4 (sameChannels is kept, ni and nf moving together).
  const wide = (o?: Parameters<typeof laws.arbResBlockParams>[0]) => laws.arbResBlockParams(o).map((r) => ({ ...r, ni: r.ni + 3, nf: r.nf + 3 }));
  test('shape', () => fc.assert(laws.residualShapeProperty(bottleneckBlock, wide({ maxSize: 9 })), runs(15)));
  test('at init equals relu(shortcut(x) + b)', () => fc.assert(laws.residualAtInitProperty(bottleneckBlock, wide()), runs(15)));
  test('with ni == nf and stride 1 equals relu(x + b) at init', () =>
    fc.assert(laws.residualIdentityProperty(bottleneckBlock, wide({ sameChannels: true, stride: 1 })), runs(10)));
  test('uses its shortcut', () => fc.assert(laws.residualShortcutProperty(bottleneckBlock, wide()), runs(15)));
});
