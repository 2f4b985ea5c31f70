import { assertClose, assertNoLeak, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, crossEntropy, crossEntropyWith, errorRate, mse, runningMean } from '../mod.ts';

describe('losses and metrics', () => {
  test('crossEntropy is the mean negative log-softmax of the label', () => {
    const logits = [[1, 2, 3], [0.5, -1, 0]], labels = [2, 0];
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    const expected = (-(3 - lse(logits[0])) - (0.5 - lse(logits[1]))) / 2;
    const eps = 0.1;
    const smooth = logits.map((r, i) => (1 - eps) * (lse(r) - r[labels[i]]) + eps * (lse(r) - r.reduce((a, b) => a + b) / 3));
    assertNoLeak(() => {
      const l = tf.tensor2d(logits), y = tf.tensor1d(labels, 'int32');
      const a = crossEntropy(l, y), b = crossEntropyWith({ labelSmoothing: eps })(l, y);
      assertClose([a.dataSync()[0]], [expected], 1e-6);
      assertClose([b.dataSync()[0]], [(smooth[0] + smooth[1]) / 2], 1e-6);
      const acc = accuracy(l, y), err = errorRate(l, y);
      assertClose([acc.dataSync()[0], err.dataSync()[0]], [1, 0]);
      tf.tidy(() => assertClose([mse(tf.tensor([1, 2]), tf.tensor([0, 0])).dataSync()[0]], [2.5]));
      [l, y, a, b, acc, err].forEach((t) => t.dispose());
    }, 'losses');
    assert.throws(() => crossEntropyWith({ labelSmoothing: 1 }), /crossEntropy.labelSmoothing: expected a number in \[0, 1\), got 1/);
    assert.throws(() => crossEntropy(tf.zeros([2, 3]), tf.zeros([3], 'int32')), /crossEntropy: expected integer labels \[2\], got \[3\]/);
  });

  test('accuracy counts arg-max hits', () => {
    tf.tidy(() => assertClose(accuracy(tf.tensor2d([[0, 1], [1, 0], [0.2, 0.1], [0, 3]]), tf.tensor1d([1, 1, 0, 0], 'int32')).dataSync(), [0.5]));
  });

  test('runningMean weights by batch size', () => {
    const m = runningMean();
    assert.ok(Number.isNaN(m.value));
    m.add(0.5, 64);
    m.add(0.3, 16);
    assertClose([m.value], [(0.5 * 64 + 0.3 * 16) / 80], 1e-12);
  });
});
