import { assertClose, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adamW, crossEntropy, disposeTrainState, fit, flattenTree, initTrainState, type Observer, parallelTrainStep, prngKey,
  selectBackend, sgd, trainStep, treesEqual,
} from '../mod.ts';
import { toyData, toyModel, toyModelNoBn, toySpec } from './fixtures/toy.ts';

describe('data-parallel training on worker threads', () => {
  test('without BatchNorm, two shards give the same step as the whole batch', async () => {
    await selectBackend({ backend: 'cpu' });
    const model = toyModelNoBn(), opt = sgd(0.1);
    const ts = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
    const batch = toyData().train.batches(0)[Symbol.iterator]().next().value!;
    const whole = trainStep(model, crossEntropy, opt)(ts, batch);
    const step = await parallelTrainStep(model, opt, { workers: 2, spec: toySpec('toyModelNoBn') });
    try {
      const split = await step(ts, batch);
      assertClose([split.loss], [whole.loss], 1e-5, 'loss');
      const a = flattenTree(split.trainState.params), b = flattenTree(whole.trainState.params);
      a.forEach(([p, t], i) => assertClose(t.dataSync(), b[i][1].dataSync(), 1e-5, p));
      disposeTrainState(split.trainState);
    } finally {
      await step.close();
      disposeTrainState(whole.trainState);
      disposeTrainState(ts);
      batch.x.dispose();
      batch.y.dispose();
    }
  });

  test('with BatchNorm, the running statistics are the mean of each shard\'s update', async () => {
    await selectBackend({ backend: 'cpu' });
    const model = toyModel(), opt = sgd(0.1);
    const ts = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
    const batch = toyData().train.batches(0)[Symbol.iterator]().next().value!;
    const half = batch.x.shape[0] / 2;
    // Each shard alone: the state its own step would give.
    const shardStates = [0, 1].map((i) => {
      const part = { x: tf.slice(batch.x, i * half, half), y: tf.slice(batch.y, i * half, half) };
      const r = trainStep(model, crossEntropy, opt)(ts, part);
      const states = flattenTree(r.trainState.state).map(([p, t]) => [p, Array.from(t.dataSync())] as const);
      disposeTrainState(r.trainState);
      [part.x, part.y].forEach((t) => t.dispose());
      return states;
    });
    const step = await parallelTrainStep(model, opt, { workers: 2, spec: toySpec('toyModel') });
    try {
      const split = await step(ts, batch);
      const got = flattenTree(split.trainState.state);
      assert.deepEqual(got.map(([p]) => p), shardStates[0].map(([p]) => p));
      got.forEach(([p, t], i) => assertClose(t.dataSync(), shardStates[0][i][1].map((v, j) => (v + shardStates[1][i][1][j]) / 2), 1e-5, p));
      disposeTrainState(split.trainState);
    } finally {
      await step.close();
      disposeTrainState(ts);
      batch.x.dispose();
      batch.y.dispose();
    }
  });

  test('fit with 2 workers learns, is deterministic for a key, and leaks nothing', async () => {
    await selectBackend({ backend: 'cpu' });
    const counts: number[] = [];
    const watch: Observer = { onEpochEnd: () => void counts.push(tf.memory().numTensors) };
    const run = (observers: Observer[]) =>
      fit(toyModel(), toyData(), { epochs: 4, opt: adamW(2e-2), key: prngKey(3), observers, parallel: { workers: 2, spec: toySpec('toyModel') } });
    const before = tf.memory().numTensors;
    const a = await run([watch]);
    const b = await run([]);
    assert.ok(treesEqual(a.trainState.params, b.trainState.params) && treesEqual(a.trainState.state, b.trainState.state), 'two runs differ');
    assert.ok(counts.every((c) => c === counts[0]), `tensor count drifted: ${counts[0]} -> ${Math.max(...counts)}`);
    assert.ok(a.history[3].metrics.accuracy > 0.8, `accuracy ${a.history[3].metrics.accuracy}`);
    disposeTrainState(a.trainState);
    disposeTrainState(b.trainState);
    assert.equal(tf.memory().numTensors, before);
  });

  test('a bad spec fails clearly', async () => {
    await assert.rejects(
      parallelTrainStep(toyModel(), sgd(0.1), { workers: 2, spec: { ...toySpec('toyModel'), export: 'nope' } }),
      /gradient worker failed: .*has no export 'nope'/,
    );
  });
});
