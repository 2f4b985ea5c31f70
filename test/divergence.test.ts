/**
 * The divergence guard of `fit`: a NaN or an infinity anywhere in the train
 * state stops training, even behind a finite loss; the last good state is
 * finite and loads; failing paths leave no tensors behind.
 */
import { runs, tf, withTempDir } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { isRight } from 'fp-ts/lib/Either.js';
import {
  adamW,
  type ArrayDataset,
  ConfigError,
  convLayer,
  crossEntropy,
  dataLoader,
  dense,
  disposeTrainState,
  DivergenceError,
  type Empty,
  evaluate,
  fit,
  flatten,
  flattenTree,
  initTrainState,
  type Layer,
  lrFind,
  type Metric,
  prngKey,
  selectBackend,
  serial,
  sgd,
  tidyApply,
  type TrainState,
  trainStep,
  withLabel,
} from '../mod.ts';
import { loadCheckpoint } from '../node.ts';
import fc from 'fast-check';
import { allFinite } from '../src/ops/finite.ts';
import { saveCheckpoints } from '../src/io/save_checkpoints.ts';
import { nonFiniteTensors } from '../src/train/finite.ts';
import { toyData, toyDataset, toyModel } from './fixtures/toy.ts';

const inShape = [8, 8, 1];

/** The toy task as float32 pixels, with `poison` written into the first pixel of example 0. */
const poisoned = (poison: number): { train: ReturnType<typeof dataLoader> } => {
  const bytes = toyDataset(32);
  const x = Float32Array.from(bytes.x, (v) => v / 255);
  x[0] = poison;
  const ds: ArrayDataset = { x, y: bytes.y, shape: inShape };
  return { train: dataLoader(ds, { batchSize: 8, shuffle: false }) };
};

/** Run fit expecting divergence; check the error and that the saved last good state loads. Returns the error. */
const expectDivergence = (data: { train: ReturnType<typeof dataLoader> }, opt = adamW(1e-3)): Promise<DivergenceError> => {
  const model = toyModel();
  const before = tf.memory().numTensors;
  return withTempDir('divergence', async (dir) => {
    const file = path.join(dir, 'last-good.safetensors');
    const caught = await fit(model, data, { epochs: 3, opt, observers: [], callbacks: [saveCheckpoints({ path: file })] }).then(
      (r) => {
        disposeTrainState(r.trainState);
        return undefined;
      },
      (e) => e,
    );
    assert.ok(caught instanceof DivergenceError, `expected a DivergenceError, got ${caught}`);
    const e = caught as DivergenceError;
    assert.deepEqual(await nonFiniteTensors(e.lastGood), [], 'the last good state holds non-finite values');
    const loaded = loadCheckpoint(file, { model, opt, inShape });
    assert.ok(isRight(loaded), `the last good checkpoint does not load: ${!isRight(loaded) && loaded.left.message}`);
    disposeTrainState(loaded.right.trainState);
    disposeTrainState(e.lastGood);
    assert.equal(tf.memory().numTensors, before, 'fit left tensors behind');
    return e;
  });
};

describe('the divergence guard', () => {
  test('an +Infinity pixel stops training at its first step, on wasm and on cpu', async () => {
    try {
      for (const backend of ['wasm', 'cpu'] as const) {
        await selectBackend({ backend });
        const e = await expectDivergence(poisoned(Infinity));
        assert.equal(e.step, 0, `${backend}: ${e.message}`);
        assert.ok(e.tensors.length > 0, `${backend}: no tensor named: ${e.message}`);
        // The forward pass makes the state first: BatchNorm's statistics of the first layer go bad first.
        assert.match(e.tensors[0].path, /^state\.body\.bn\./, e.message);
        assert.ok(e.message.includes(e.tensors[0].path), e.message);
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });

  test('runaway values stop training: sgd(1e6), adamW(1e6) and an input of 1e30', async () => {
    for (
      const [what, data, opt] of [
        ['sgd(1e6)', toyData(), sgd(1e6)],
        ['adamW(1e6)', toyData(), adamW(1e6)],
        ['an input of 1e30', poisoned(1e30), adamW(1e-3)],
      ] as const
    ) {
      const e = await expectDivergence(data, opt);
      assert.ok(e.step < 3 * data.train.length, `${what}: stopped only at step ${e.step}`);
    }
  });

  test('a NaN behind a finite loss stops training, naming the tensor', async () => {
    // A layer whose statistic runs away (x100 per step) while its output, and so the loss, stays finite.
    const runaway: Layer<Empty, { scale: tf.Tensor }> = {
      name: 'runaway',
      init: (_k, inShape) => ({ params: {}, state: { scale: tf.ones([1]) }, outShape: inShape }),
      apply: tidyApply((_p, state, x, ctx) => ({ y: x, state: ctx.training ? { scale: tf.mul(state.scale, 1e30) } : state })),
    };
    const model = serial(withLabel('stat', runaway), withLabel('flatten', flatten), withLabel('head', dense({ nf: 3 })));
    const before = tf.memory().numTensors;
    const e = await fit(model, toyData(), { epochs: 3, opt: adamW(1e-3), observers: [] }).then(() => undefined, (err) => err);
    assert.ok(e instanceof DivergenceError, `expected a DivergenceError, got ${e}`);
    assert.ok(Number.isFinite(e.loss), `the loss was not finite: ${e.message}`);
    assert.equal(e.step, 1, e.message); // 1e30 after one step, +Infinity after two
    assert.equal(e.tensors[0].path, 'state.stat.scale');
    assert.match(e.message, /training diverged at step 1 \(epoch 0\): loss \d\.\d+ is finite, but state\.stat\.scale holds 1 \+Infinity of 1 values/);
    disposeTrainState(e.lastGood);
    assert.equal(tf.memory().numTensors, before);
  });

  test("a train state holding NaN is refused before training, naming the tensor, and stays the caller's", async () => {
    const model = toyModel(), opt = adamW(1e-3);
    const ts = initTrainState(model, opt, prngKey(0), inShape);
    const params = ts.params as { head: { weight: tf.Tensor; bias: tf.Tensor } };
    const weight = params.head.weight;
    const bad: TrainState = { ...ts, params: { ...params, head: { ...params.head, weight: tf.fill(weight.shape, NaN) } } };
    await assert.rejects(
      fit(model, toyData(), { epochs: 1, opt, trainState: bad, observers: [] }),
      /fit\.trainState: params\.head\.weight holds \d+ NaN of \d+ values/,
    );
    assert.ok(!weight.isDisposed, "the caller's state was disposed");
    (bad.params as { head: { weight: tf.Tensor } }).head.weight.dispose();
    disposeTrainState(ts);
  });
});

describe('failing paths leave no tensors behind', () => {
  const flat = async (what: string, run: () => unknown) => {
    await run(); // first call: lazily created constants and kernels
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await run();
    assert.equal(tf.memory().numTensors, before, `${what}: ${tf.memory().numTensors - before} tensors left by 5 failing calls`);
  };
  const refuse = () => {
    throw new Error('refused');
  };

  test('a trainStep whose loss throws', async () => {
    const model = toyModel(), opt = adamW(1e-3);
    const ts = initTrainState(model, opt, prngKey(0), inShape);
    const step = trainStep(model, refuse, opt);
    const batch = { x: tf.ones([2, ...inShape]), y: tf.tensor1d([0, 1], 'int32') };
    await flat('trainStep', () => assert.rejects(step(ts, batch), /refused/));
    tf.dispose([batch.x, batch.y]);
    disposeTrainState(ts);
  });

  test('fit whose loss, observer or callback throws, at the first step or later', async () => {
    let calls = 0;
    const lateLoss = (y: Parameters<typeof crossEntropy>[0], t: tf.Tensor) => (++calls % 3 === 0 ? refuse() : crossEntropy(y, t));
    for (
      const [what, options] of [
        ['loss', { loss: refuse }],
        ['loss at a later step', { loss: lateLoss }],
        ['observer', { observers: [{ onBatchEnd: refuse }] }],
        ['callback', { callbacks: [{ onEpochEnd: refuse }] }],
      ] as const
    ) {
      await flat(what, () => assert.rejects(fit(toyModel(), toyData(16), { epochs: 1, opt: adamW(1e-3), observers: [], ...options }), /refused/));
    }
  });

  test('evaluate whose metric throws', async () => {
    const model = toyModel(), opt = adamW(1e-3);
    const ts = initTrainState(model, opt, prngKey(0), inShape);
    const bad = Object.defineProperty(refuse, 'name', { value: 'bad' }) as unknown as Metric;
    await flat('evaluate', () => assert.rejects(evaluate(model, ts, toyData().valid, crossEntropy, [bad]), /refused/));
    disposeTrainState(ts);
  });
});

describe('a train state that does not fit the model', () => {
  test("fit and lrFind refuse another model's state, naming each tensor, and leave it the caller's", async () => {
    const model = toyModel(), opt = adamW(1e-3);
    const other = serial(withLabel('body', convLayer(1, 8, { stride: 2 })), withLabel('flatten', flatten), withLabel('head', dense({ nf: 3 })));
    const ts = initTrainState(other, opt, prngKey(0), inShape);
    const before = tf.memory().numTensors;
    await assert.rejects(
      fit(model, toyData(), { epochs: 1, opt, trainState: ts, observers: [] }),
      (e: unknown) =>
        e instanceof ConfigError && /fit\.trainState: params\.body\.conv\.weight: expected shape \[3, 3, 1, 4\], got \[3, 3, 1, 8\]/.test(e.message),
    );
    await assert.rejects(
      lrFind(model, toyData().train, { from: ts }),
      /lrFind\.from: params\.body\.conv\.weight: expected shape \[3, 3, 1, 4\], got \[3, 3, 1, 8\]/,
    );
    const { params: _p, ...rest } = ts;
    await assert.rejects(
      fit(model, toyData(), { epochs: 1, opt, trainState: { ...rest, params: {} }, observers: [] }),
      /fit\.trainState: params\.body\.conv\.weight: missing/,
    );
    assert.equal(tf.memory().numTensors, before);
    assert.ok(flattenTree(ts.params).every(([, t]) => !t.isDisposed));
    disposeTrainState(ts);
  });

  test('lrFind whose loss throws leaves no tensors behind', async () => {
    const model = toyModel();
    const refuse = () => {
      throw new Error('refused');
    };
    await assert.rejects(lrFind(model, toyData().train, { loss: refuse }), /refused/);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await assert.rejects(lrFind(model, toyData().train, { loss: refuse }), /refused/);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('data that does not fit the model', () => {
  test("fit refuses a loader whose class count differs from the model's outputs, before training", async () => {
    const ds = toyDataset(16);
    const train = dataLoader({ ...ds, classes: ['a', 'b', 'c', 'd'] }, { batchSize: 8 });
    const before = tf.memory().numTensors;
    await assert.rejects(
      fit(toyModel(), { train }, { epochs: 1, opt: adamW(1e-3), observers: [] }),
      /fit\.data\.train: the model gives 3 outputs per example, the data has 4 classes/,
    );
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('the all-finite check', () => {
  const NEGATIVE_NAN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0];
  for (const backend of ['cpu', 'wasm'] as const) {
    test(`on ${backend}: agrees with a plain check, in the SIMD body and the tail, for every kind of non-finite value`, async () => {
      await selectBackend({ backend });
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.integer({ min: 0, max: 41 }), { minLength: 1, maxLength: 5 }),
            fc.option(fc.record({ tensor: fc.nat(), at: fc.nat(), value: fc.constantFrom(NaN, NEGATIVE_NAN, Infinity, -Infinity) })),
            async (sizes, poison) => {
              const arrays = sizes.map((n, i) => Float32Array.from({ length: n }, (_, j) => Math.sin(i * 7 + j) * 1e30));
              if (poison) {
                const k = poison.tensor % arrays.length;
                if (arrays[k].length) arrays[k][poison.at % arrays[k].length] = poison.value;
              }
              const ts = [...arrays.map((a) => tf.tensor1d(a)), tf.tensor1d([1, 2], 'int32')];
              const expected = arrays.every((a) => a.every(Number.isFinite));
              const got = await allFinite(ts);
              tf.dispose(ts);
              assert.equal(got, expected, `sizes ${sizes}, poison ${JSON.stringify(poison)}`);
            },
          ),
          runs(200),
        );
      } finally {
        await tf.setBackend('cpu');
      }
    });
  }

  test('a tensor still held by another backend is checked too (the math moves it)', async () => {
    const t = tf.tensor1d([1, NaN, 3]); // on cpu
    try {
      await selectBackend({ backend: 'wasm' });
      assert.equal(await allFinite([t]), false);
    } finally {
      await tf.setBackend('cpu');
      t.dispose();
    }
  });
});
