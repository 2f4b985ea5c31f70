import { assertClose, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adamW,
  ConfigError,
  crossEntropy,
  crossEntropyWith,
  disposeTrainState,
  fit,
  flattenTree,
  initTrainState,
  type Loss,
  type Observer,
  prngKey,
  selectBackend,
  sgd,
  trainStep,
  treesEqual,
} from '../mod.ts';
import { dataParallel, parallelTrainStep } from '../node.ts';
import { toyData, toyModel, toyModelNoBn, toySpec } from './fixtures/toy.ts';

describe('data-parallel training on worker threads', () => {
  test('without BatchNorm, two shards give the same step as the whole batch', async () => {
    await selectBackend({ backend: 'cpu' });
    const model = toyModelNoBn(), opt = sgd(0.1);
    const ts = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
    const batch = toyData().train.batches(0)[Symbol.iterator]().next().value!;
    const whole = await trainStep(model, crossEntropy, opt)(ts, batch);
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

  test("on wasm, params the engine knows finite give the whole batch's step, and a NaN filter a NaN loss", async () => {
    await selectBackend({ backend: 'wasm' });
    const model = toyModelNoBn(), opt = sgd(0.1);
    const ts0 = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
    const batch = toyData().train.batches(0)[Symbol.iterator]().next().value!;
    // One whole-batch step first: its params come out of the update marked finite.
    const warm = (await trainStep(model, crossEntropy, opt)(ts0, batch)).trainState;
    const whole = await trainStep(model, crossEntropy, opt)(warm, batch);
    const w = (warm.params as { conv: { weight: tf.Tensor } }).conv.weight;
    const poisoned = {
      ...warm,
      params: {
        ...warm.params as object,
        conv: { ...(warm.params as { conv: object }).conv, weight: tf.tensor(Float32Array.from(w.dataSync(), (v, i) => (i === 0 ? NaN : v)), w.shape) },
      },
    };
    const step = await parallelTrainStep(model, opt, { workers: 2, spec: toySpec('toyModelNoBn') });
    try {
      const split = await step(warm, batch);
      assertClose([split.loss], [whole.loss], 1e-5, 'loss');
      flattenTree(split.trainState.params).forEach(([p, t], i) => assertClose(t.dataSync(), flattenTree(whole.trainState.params)[i][1].dataSync(), 1e-5, p));
      disposeTrainState(split.trainState);
      const bad = await step(poisoned as typeof warm, batch);
      assert.ok(Number.isNaN(bad.loss), `a NaN filter weight gave the loss ${bad.loss}`);
      disposeTrainState(bad.trainState);
    } finally {
      await step.close();
      (poisoned.params as { conv: { weight: tf.Tensor } }).conv.weight.dispose();
      [ts0, warm, whole.trainState].forEach(disposeTrainState);
      batch.x.dispose();
      batch.y.dispose();
      await selectBackend({ backend: 'cpu' });
    }
  });

  test("with BatchNorm, the running statistics are the mean of each shard's update", async () => {
    await selectBackend({ backend: 'cpu' });
    const model = toyModel(), opt = sgd(0.1);
    const ts = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
    const batch = toyData().train.batches(0)[Symbol.iterator]().next().value!;
    const half = batch.x.shape[0] / 2;
    // Each shard alone: the state its own step would give.
    const shardStates = await Promise.all([0, 1].map(async (i) => {
      const part = { x: tf.slice(batch.x, i * half, half), y: tf.slice(batch.y, i * half, half) };
      const r = await trainStep(model, crossEntropy, opt)(ts, part);
      const states = flattenTree(r.trainState.state).map(([p, t]) => [p, Array.from(t.dataSync())] as const);
      disposeTrainState(r.trainState);
      [part.x, part.y].forEach((t) => t.dispose());
      return states;
    }));
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
      fit(toyModel(), toyData(), { epochs: 4, opt: adamW(2e-2), key: prngKey(3), observers, step: dataParallel({ workers: 2, spec: toySpec('toyModel') }) });
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

  test('any loss trains in parallel: a label-smoothed loss given by spec matches the single-thread run', async () => {
    await selectBackend({ backend: 'cpu' });
    const loss = crossEntropyWith({ labelSmoothing: 0.2 });
    const lossSpec = { module: new URL('../src/train/losses.ts', import.meta.url).href, export: 'crossEntropyWith', args: [{ labelSmoothing: 0.2 }] };
    const run = (parallel: boolean) =>
      fit(toyModelNoBn(), toyData(), {
        epochs: 2,
        opt: sgd(0.05),
        loss,
        key: prngKey(4),
        observers: [],
        ...(parallel ? { step: dataParallel({ workers: 2, spec: toySpec('toyModelNoBn'), lossSpec }) } : {}),
      });
    const [one, two] = [await run(false), await run(true)];
    assertClose([two.history[1].trainLoss], [one.history[1].trainLoss], 1e-4, 'train loss');
    const a = flattenTree(two.trainState.params), b = flattenTree(one.trainState.params);
    a.forEach(([p, t], i) => assertClose(t.dataSync(), b[i][1].dataSync(), 1e-4, p));
    [one, two].forEach((r) => disposeTrainState(r.trainState));
  });

  test('a loss the workers cannot rebuild is refused with a ConfigError saying how to give it', async () => {
    const mine: Loss = (y, t) => crossEntropy(y, t);
    await assert.rejects(
      fit(toyModelNoBn(), toyData(), {
        epochs: 1,
        opt: sgd(0.1),
        loss: mine,
        observers: [],
        step: dataParallel({ workers: 2, spec: toySpec('toyModelNoBn') }),
      }),
      (e: unknown) => e instanceof ConfigError && /dataParallel\.lossSpec: the worker threads cannot rebuild this loss/.test(e.message),
    );
  });

  test('a bad spec fails clearly', async () => {
    await assert.rejects(
      parallelTrainStep(toyModel(), sgd(0.1), { workers: 2, spec: { ...toySpec('toyModel'), export: 'nope' } }),
      /gradient worker failed: .*has no export 'nope'/,
    );
  });
});
