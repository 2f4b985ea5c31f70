/**
 * Integration tests on the real Fashion-MNIST files (Debian's
 * dataset-fashion-mnist, or FASHION_MNIST_DIR). Skipped, with the reason,
 * when the data is absent.
 */
import { assertClose, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLeft } from 'fp-ts/lib/Either.js';
import {
  channelStats,
  convLayer,
  dataLoader,
  dense,
  disposeTrainState,
  fitOneCycle,
  flatten,
  globalAvgPool,
  prngKey,
  selectBackend,
  serial,
  withLabel,
} from '../mod.ts';
import { loadFashionMnist } from '../node.ts';

const found = await loadFashionMnist({ download: false });
const skip = isLeft(found) ? `Fashion-MNIST not available: ${found.left.message.split('\n')[0]} (apt-get install dataset-fashion-mnist)` : false;
const data = isLeft(found) ? undefined : found.right;

describe('Fashion-MNIST, real files', () => {
  test('exact counts: 60,000 and 10,000 images, 6,000 and 1,000 per class', { skip }, () => {
    const { train, test: t } = data!;
    assert.equal(train.y.length, 60000);
    assert.equal(t.y.length, 10000);
    assert.equal(train.x.length, 60000 * 784);
    const counts = (y: Int32Array) => Array.from({ length: 10 }, (_, c) => y.filter((v) => v === c).length);
    assert.deepEqual(counts(train.y), new Array(10).fill(6000));
    assert.deepEqual(counts(t.y), new Array(10).fill(1000));
  });

  test('pixel statistics: mean about 0.286, std about 0.353 after scaling to [0, 1]', { skip }, () => {
    const s = channelStats(data!.train);
    assertClose(s.mean, [0.2860], 0.0005, 'mean');
    assertClose(s.std, [0.3530], 0.0005, 'std');
  });

  test('a short training on a subset clearly beats chance', { skip }, async () => {
    const before = tf.getBackend();
    await selectBackend({ backend: 'wasm' });
    try {
      const stats = channelStats(data!.train);
      const train = dataLoader(data!.train, { batchSize: 64, key: prngKey(0), normalize: stats, limit: 8192 });
      const valid = dataLoader(data!.test, { batchSize: 500, shuffle: false, normalize: stats, limit: 1000 });
      const model = serial(
        convLayer(1, 16, { stride: 2 }),
        convLayer(16, 32, { stride: 2 }),
        withLabel('pool', globalAvgPool),
        withLabel('flatten', flatten),
        withLabel('head', dense({ nf: 10 })),
      );
      const { trainState, history } = await fitOneCycle(model, { train, valid }, { epochs: 2, lrMax: 2e-2, observers: [] });
      disposeTrainState(trainState);
      assert.ok(history[1].metrics.accuracy > 0.6, `accuracy ${history[1].metrics.accuracy} after 2 epochs of 8192 images (chance is 0.1)`);
    } finally {
      await tf.setBackend(before);
    }
  });
});
