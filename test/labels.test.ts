/**
 * Labels and targets that a loss or metric cannot use are refused, not
 * scored: an out-of-range class once counted as zero loss (tf.oneHot gives
 * all zeros), a float label was truncated, a [b, 1] output broadcast against
 * a [b] target, and an empty batch gave a number. The checks leak nothing
 * and propagate out of a gradient tape; the loader checks labels once.
 */
import { assertClose, assertThrowsWith, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { isRight } from 'fp-ts/lib/Either.js';
import { Jimp } from 'jimp';
import {
  accuracy,
  adamW,
  ConfigError,
  crossEntropy,
  crossEntropyWith,
  dataLoader,
  errorRate,
  initTrainState,
  mse,
  prngKey,
  trainStep,
  valueAndGrad,
} from '../mod.ts';
import { encodeIdx, loadImageFolder, readFashionMnist } from '../node.ts';
import { FASHION_MNIST_FILES } from '../src/data/fashion_mnist.ts';
import { toyModel } from './fixtures/toy.ts';

const logits = () => tf.tensor2d([[1, 2, 3], [0.5, -1, 0]]);
const int = (v: number[]) => tf.tensor1d(v, 'int32');

/** Each loss and metric over class labels, by the name its messages use. */
const classScorers = [['crossEntropy', crossEntropy], ['crossEntropy', crossEntropyWith({ labelSmoothing: 0.1 })], ['accuracy', accuracy], [
  'errorRate',
  errorRate,
]] as const;

/** Labels that must be refused for logits [2, 3], and a fragment of the message. */
const badLabels: readonly (readonly [what: string, make: () => tf.Tensor, fragment: string])[] = [
  ['label 3 of 3 classes', () => int([0, 3]), 'expected labels in 0..2 (logits [2, 3] have 3 classes), got 3 at index 1'],
  ['label -1', () => int([-1, 0]), 'got -1 at index 0'],
  ['label 100', () => int([0, 100]), 'got 100 at index 1'],
  ['float32 1.5', () => tf.tensor1d([0, 1.5]), 'expected int32 labels, got a float32 tensor [2]'],
  ['float32 NaN', () => tf.tensor1d([0, NaN]), 'expected int32 labels, got a float32 tensor [2]'],
  ['float32 holding integers', () => tf.tensor1d([0, 1]), "tf.cast(labels, 'int32')"],
  ['bool labels', () => tf.tensor1d([true, false], 'bool'), 'expected int32 labels, got a bool tensor [2]'],
  ['three labels for two rows', () => int([0, 1, 2]), 'expected integer labels [2], got [3]'],
  ['labels [2, 1]', () => tf.tensor2d([[0], [1]], [2, 1], 'int32'), 'expected integer labels [2], got [2, 1]'],
];

describe('losses and metrics refuse labels they cannot score', () => {
  for (const [name, f] of classScorers) {
    for (const [what, make, fragment] of badLabels) {
      test(`${name}: ${what}`, () => {
        const l = logits(), y = make();
        const e = assertThrowsWith(() => f(l, y), `${name}: `, fragment);
        assert.ok(e instanceof ConfigError, `${e.name}: ${e.message}`);
        l.dispose();
        y.dispose();
      });
    }
  }

  test('valid labels still score as before', () => {
    const l = logits(), y = int([2, 0]);
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    const expected = ((lse([1, 2, 3]) - 3) + (lse([0.5, -1, 0]) - 0.5)) / 2;
    const [ce, acc, err] = [crossEntropy(l, y), accuracy(l, y), errorRate(l, y)];
    assertClose([ce.dataSync()[0], acc.dataSync()[0], err.dataSync()[0]], [expected, 1, 0], 1e-6);
    [l, y, ce, acc, err].forEach((t) => t.dispose());
  });

  test('logits that are not [batch, classes] are refused', () => {
    const y = int([0, 1]);
    for (const [name, f] of classScorers) {
      const x = tf.zeros([2, 3, 1]);
      assertThrowsWith(() => f(x, y), `${name}: expected logits [batch, classes], got a float32 tensor [2, 3, 1]`);
      assertThrowsWith(() => f([x, x], y), `${name}: expected logits [batch, classes], got a list of 2 tensors`);
      x.dispose();
    }
    y.dispose();
  });

  test('an empty batch is refused, by every loss and metric', () => {
    const x = tf.zeros([0, 3]), y = int([]);
    for (const [name, f] of classScorers) assertThrowsWith(() => f(x, y), `${name}: expected a non-empty batch, got logits [0, 3]`);
    const e0 = tf.zeros([0, 2]);
    assertThrowsWith(() => mse(e0, e0), 'mse: expected a non-empty batch, got an output [0, 2]');
    [x, y, e0].forEach((t) => t.dispose());
  });

  test("mse requires the target to have the output's shape (no broadcasting)", () => {
    const out = tf.zeros([4, 1]), target = tf.ones([4]), same = tf.ones([4, 1]);
    assertThrowsWith(() => mse(out, target), "mse: expected a target of the output's shape [4, 1], got [4]");
    assertThrowsWith(() => mse([out, out], same), 'mse: expected one output tensor, got a list of 2 tensors');
    assertThrowsWith(() => mse(out, [1, 2, 3, 4] as never), 'mse: expected a target tensor [4, 1], got [1, 2, 3, 4]');
    const l = mse(out, same);
    assertClose(l.dataSync(), [1]);
    [out, target, same, l].forEach((t) => t.dispose());
  });

  test('crossEntropyWith checks its option like every option set', () => {
    assertThrowsWith(() => crossEntropyWith({ labelSmoothing: NaN }), 'crossEntropy.labelSmoothing: expected a number in [0, 1), got NaN');
    assertThrowsWith(() => crossEntropyWith({ labelSmoothing: '0.1' as never }), 'crossEntropy.labelSmoothing: expected a number in [0, 1), got "0.1"');
    assertThrowsWith(
      () => crossEntropyWith({ labelSmothing: 0.1 } as never),
      'crossEntropy.labelSmothing: unknown option, got 0.1; did you mean labelSmoothing?',
    );
  });

  test('refusals leak nothing: the tensor count stays flat over repeated failing calls', () => {
    const l = logits(), bad = [int([0, 3]), tf.tensor1d([0, 1.5]), int([0, 1, 2])], out = tf.zeros([4, 1]), t4 = tf.ones([4]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      for (const [, f] of classScorers) for (const y of bad) assert.throws(() => f(l, y), ConfigError);
      assert.throws(() => mse(out, t4), ConfigError);
      // Inside a caller's tidy as well, where intermediate tensors would be caught anyway.
      assert.throws(() => tf.tidy(() => crossEntropy(tf.mul(l, 2), bad[0])), ConfigError);
    }
    assert.equal(tf.memory().numTensors, before);
    [l, ...bad, out, t4].forEach((t) => t.dispose());
  });

  test('inside a gradient tape the ConfigError propagates, leaving nothing behind', () => {
    const w = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), x = logits(), y = int([0, 3]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      assert.throws(
        () => valueAndGrad((p: { w: tf.Tensor }) => ({ loss: crossEntropy(tf.matMul(x, p.w), y) }))({ w }),
        (e: unknown) => e instanceof ConfigError && e.message.includes('crossEntropy: expected labels in 0..2'),
      );
      assert.throws(() => valueAndGrad((p: { w: tf.Tensor }) => ({ loss: mse(tf.matMul(x, p.w), tf.zeros([2])) }))({ w }), ConfigError);
    }
    assert.equal(tf.memory().numTensors, before);
    // tfjs's own tf.grad propagates it too. (It keeps the tensors that ops before any throw
    // saved for the backward pass, a throw of ours or not, so its count is not checked here.)
    assert.throws(() => tf.grad((v: tf.Tensor) => crossEntropy(tf.matMul(x, v), y))(w), ConfigError);
    assert.throws(() => tf.valueAndGrad((v: tf.Tensor) => mse(tf.matMul(x, v), tf.zeros([2])))(w), ConfigError);
    // And the tape still works afterwards.
    const ok = valueAndGrad((p: { w: tf.Tensor }) => ({ loss: crossEntropy(tf.matMul(x, p.w), int([0, 2])) }))({ w });
    assert.ok(Number.isFinite(ok.value.dataSync()[0]));
    ok.value.dispose();
    (ok.grads.w as tf.Tensor).dispose();
    [w, x, y].forEach((t) => t.dispose());
  });

  test('a training step on a batch with an out-of-range label throws the ConfigError and leaks nothing', async () => {
    const model = toyModel(), opt = adamW(1e-3);
    const ts = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
    const step = trainStep(model, crossEntropy, opt);
    const batch = { x: tf.zeros([2, 8, 8, 1]), y: int([0, 3]) };
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await assert.rejects(step(ts, batch), /crossEntropy: expected labels in 0\.\.2 \(logits \[2, 3\] have 3 classes\), got 3 at index 1/);
    }
    assert.equal(tf.memory().numTensors, before);
    batch.x.dispose();
    batch.y.dispose();
    tf.dispose([ts.params, ts.state, ts.optState] as never);
  });
});

describe('the loader checks labels once, against the class count, and exposes it', () => {
  const ds = (y: number[], classes?: readonly string[]) => ({
    x: new Uint8Array(y.length * 4),
    y: Int32Array.from(y),
    shape: [2, 2, 1],
    ...(classes ? { classes } : {}),
  });
  const abc = ['a', 'b', 'c'] as const;

  test("labels against the dataset's class names", () => {
    assertThrowsWith(
      () => dataLoader(ds([0, 1, 3, 2], abc), { batchSize: 2 }),
      'dataLoader.ds.y.2: expected an integer in 0..2 (3 classes, from ds.classes), got 3',
    );
    assert.equal(dataLoader(ds([0, 1, 2, 2], abc), { batchSize: 2 }).nClasses, 3);
  });

  test('labels against the nClasses option', () => {
    assertThrowsWith(
      () => dataLoader(ds([0, 1, 3]), { batchSize: 2, nClasses: 3 }),
      'dataLoader.ds.y.2: expected an integer in 0..2 (3 classes, from the nClasses option), got 3',
    );
    assert.equal(dataLoader(ds([0, 1, 2]), { batchSize: 2, nClasses: 5 }).nClasses, 5);
    assertThrowsWith(() => dataLoader(ds([0]), { batchSize: 1, nClasses: 0 }), 'dataLoader.nClasses: expected positive integer, got 0');
    assertThrowsWith(() => dataLoader(ds([0]), { batchSize: 1, nClasses: 2.5 }), 'dataLoader.nClasses: expected positive integer, got 2.5');
    assertThrowsWith(() => dataLoader(ds([0], abc), { batchSize: 1, nClasses: 4 }), "dataLoader.nClasses: expected 3 (the dataset's 3 class names), got 4");
  });

  test('negative and non-integer labels are refused even without a class count, which is then unknown', () => {
    assertThrowsWith(() => dataLoader(ds([0, -1]), { batchSize: 2 }), 'dataLoader.ds.y.1: expected an integer >= 0, got -1');
    const floats = { x: new Uint8Array(8), y: Float32Array.from([0, 1.5]) as unknown as Int32Array, shape: [2, 2, 1] };
    assertThrowsWith(() => dataLoader(floats, { batchSize: 2 }), 'dataLoader.ds.y.1: expected an integer >= 0, got 1.5');
    const nan = { ...floats, y: Float32Array.from([NaN, 0]) as unknown as Int32Array };
    assertThrowsWith(() => dataLoader(nan, { batchSize: 2 }), 'dataLoader.ds.y.0: expected an integer >= 0, got NaN');
    assert.equal(dataLoader(ds([0, 7]), { batchSize: 2 }).nClasses, undefined);
    assert.ok(!('nClasses' in dataLoader(ds([0, 7]), { batchSize: 2 })));
  });

  test('Fashion-MNIST and image folders give their class names, so their loaders know the class count', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnn-labels-'));
    try {
      const f = FASHION_MNIST_FILES;
      const images = (k: number) => gzipSync(encodeIdx([k, 28, 28], new Uint8Array(k * 784)));
      const labels = (k: number) => gzipSync(encodeIdx([k], Uint8Array.from({ length: k }, (_, i) => i % 10)));
      for (
        const [name, bytes] of [[f.trainImages.name, images(4)], [f.trainLabels.name, labels(4)], [f.testImages.name, images(2)], [
          f.testLabels.name,
          labels(2),
        ]] as const
      ) {
        fs.writeFileSync(path.join(dir, name), bytes);
      }
      const r = readFashionMnist(dir);
      assert.ok(isRight(r));
      assert.equal(dataLoader(r.right.train, { batchSize: 2 }).nClasses, 10);
      const root = path.join(dir, 'folder');
      for (const split of ['train', 'val']) {
        for (const cls of ['cat', 'dog']) {
          fs.mkdirSync(path.join(root, split, cls), { recursive: true });
          fs.writeFileSync(path.join(root, split, cls, 'a.png'), await new Jimp({ width: 2, height: 2, color: 0xff0000ff }).getBuffer('image/png'));
        }
      }
      const { train, valid } = await loadImageFolder(root, { size: [2, 2] });
      assert.equal(dataLoader(train, { batchSize: 2 }).nClasses, 2);
      assert.equal(dataLoader(valid, { batchSize: 2 }).nClasses, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
