/**
 * Inference: `predict` against the model's own softmax and `dataLoader`'s
 * preprocessing, and `loadModel` from a checkpoint with no optimizer, its
 * failures each one CheckpointError naming the file.
 */
import { tf, withTempDir } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { adamW, CheckpointError, dataLoader, disposeTrainState, disposeTree, evalCtx, initTrainState, predict, prngKey, resNet } from '../mod.ts';
import { loadModel, saveCheckpoint } from '../node.ts';

const opts = { nIn: 1, nClasses: 10, channels: [4, 8] };
const normalize = { mean: [0.3], std: [0.4] };
const images = (n: number) => Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * 37) % 256);

describe('predict', () => {
  test("gives the softmax of the model's eval output on dataLoader's preprocessing, in any batch size, leaving nothing behind", async () => {
    const model = resNet(opts), ts = initTrainState(model, adamW(1e-3), prngKey(1), [28, 28, 1]);
    const x = images(7);
    // The reference: the batch dataLoader makes, through the model, then softmax.
    const batch = dataLoader({ x, y: new Int32Array(7), shape: [28, 28, 1] }, { batchSize: 7, shuffle: false, normalize }).batches(0)[Symbol.iterator]().next()
      .value!;
    const ref = tf.tidy(() => tf.softmax(model.apply(ts.params as never, ts.state as never, batch.x, evalCtx).y as tf.Tensor2D)).dataSync();
    tf.dispose([batch.x, batch.y]);
    const before = tf.memory().numTensors;
    for (const batchSize of [1, 3, 256]) {
      const r = await predict(model, ts, { x, shape: [28, 28, 1] }, { batchSize, normalize });
      assert.equal(r.nClasses, 10);
      r.probs.forEach((p, i) => assert.ok(Math.abs(p - ref[i]) < 1e-6, `batch ${batchSize}, value ${i}: ${p} vs ${ref[i]}`));
      for (let i = 0; i < 7; i++) {
        const row = Array.from(r.probs.subarray(i * 10, i * 10 + 10));
        assert.ok(Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-5);
        assert.equal(r.classes[i], row.indexOf(Math.max(...row)));
      }
    }
    assert.equal(tf.memory().numTensors, before, 'predict leaked');
    await assert.rejects(() => predict(model, ts, { x: new Uint8Array(100), shape: [28, 28, 1] }), /predict\.inputs: expected a multiple of 784 values/);
    await assert.rejects(() => predict(model, ts, { x, shape: [28, 28, 1] }, { normalize: { mean: [0, 0], std: [1, 1] } }), /predict\.normalize/);
    await assert.rejects(() => predict(model, ts, { x, shape: [28, 28, 1] }, { batchSize: 0 }), /predict\.batchSize/);
    assert.equal(tf.memory().numTensors, before, 'a refused predict leaked');
    disposeTrainState(ts);
  });
});

describe('predict on non-image inputs', () => {
  test('normalises as dataLoader does: one channel for a flat shape', async () => {
    const { dense } = await import('../mod.ts');
    const model = dense({ nf: 3 }), ts = initTrainState(model, adamW(1e-3), prngKey(4), [4]);
    const x = Float32Array.from({ length: 5 * 4 }, (_, i) => i / 7), norm = { mean: [0.5], std: [2] };
    const batch = dataLoader({ x, y: new Int32Array(5), shape: [4] }, { batchSize: 5, shuffle: false, normalize: norm }).batches(0)[Symbol.iterator]().next()
      .value!;
    const ref = tf.tidy(() => tf.softmax(model.apply(ts.params as never, ts.state as never, batch.x, evalCtx).y as tf.Tensor2D)).dataSync();
    tf.dispose([batch.x, batch.y]);
    const r = await predict(model, ts, { x, shape: [4] }, { normalize: norm });
    r.probs.forEach((p, i) => assert.ok(Math.abs(p - ref[i]) < 1e-6, `value ${i}`));
    disposeTrainState(ts);
  });
});

describe('loadModel', () => {
  test('rebuilds the model from the config and loads params and state, with no optimizer; the optimizer bytes stay under the checksum', () =>
    withTempDir('model', async (dir) => {
      const file = path.join(dir, 'm.safetensors');
      const model = resNet(opts), ts = initTrainState(model, adamW(1e-3), prngKey(2), [28, 28, 1]);
      const config = { model: 'resnet', ...opts, inShape: [28, 28, 1], preprocess: { normalize }, classes: ['a', 'b'], augment: { padCrop: 1, flip: true } };
      await saveCheckpoint(file, { ...ts, step: 7 }, config);
      const before = tf.memory().numTensors;
      const m = loadModel(file);
      assert.equal(m.step, 7);
      assert.deepEqual(m.inShape, [28, 28, 1]);
      assert.deepEqual(m.preprocess, { normalize });
      assert.deepEqual(m.config, config);
      assert.deepEqual(m.classes, ['a', 'b']);
      assert.deepEqual(m.augment, { padCrop: 1, flip: true });
      const x = images(3);
      const [a, b] = [await predict(model, ts, { x, shape: [28, 28, 1] }, m.preprocess), await predict(m.model, m, { x, shape: [28, 28, 1] }, m.preprocess)];
      assert.deepEqual(Array.from(a.probs), Array.from(b.probs));
      disposeTree({ params: m.params, state: m.state });
      assert.equal(tf.memory().numTensors, before, 'loadModel left tensors beyond the params and state it returned');
      // A flipped byte in the last tensor (the optimizer state is written after params and state): refused.
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 2] ^= 0x40;
      fs.writeFileSync(file, bytes);
      assert.throws(() => loadModel(file), (e: unknown) => e instanceof CheckpointError && /checksum mismatch/.test(e.message));
      disposeTrainState(ts);
    }));

  test('a missing file, an unknown model, a bad inShape, a config the builder refuses, or tensors of another model: one CheckpointError naming the file', () =>
    withTempDir('model', async (dir) => {
      const ts = initTrainState(resNet(opts), adamW(1e-3), prngKey(2), [28, 28, 1]);
      const save = async (name: string, config: unknown) => (await saveCheckpoint(path.join(dir, name), ts, config), path.join(dir, name));
      const cases: [string, RegExp][] = [
        [path.join(dir, 'missing.safetensors'), /cannot read: ENOENT/],
        [await save('a', { model: 'resnet9', inShape: [28, 28, 1] }), /metadata\.config\.model: expected one of 'plain', 'resnet', 'resnet2', 'resnet18'/],
        [await save('b', { model: 'resnet', ...opts }), /metadata\.config\.inShape: expected the input shape/],
        [await save('c', { model: 'resnet', nIn: 1, inShape: [28, 28, 1] }), /metadata\.config: .*nClasses/],
        [await save('d', { model: 'resnet', ...opts, channels: [4, 16], inShape: [28, 28, 1] }), /expected shape/],
        [await save('e', null), /metadata\.config: expected an object/],
        [
          await save('f', { model: 'resnet', ...opts, inShape: [28, 28, 1], augment: { padCrop: -1 } }),
          /metadata\.config\.augment\.padCrop: expected non-negative integer, got -1/,
        ],
        [await save('g', { model: 'resnet', ...opts, inShape: [28, 28, 1], augment: { flips: true } }), /metadata\.config\.augment\.flips: unknown option/],
      ];
      for (const [file, pattern] of cases) {
        assert.throws(() => loadModel(file), (e: unknown) => e instanceof CheckpointError && e.file === file && pattern.test(e.message), `${file}: ${pattern}`);
      }
      // Builders of your own.
      const m = loadModel(path.join(dir, 'a'), { builders: { resnet9: () => resNet(opts) } });
      disposeTree({ params: m.params, state: m.state });
      disposeTrainState(ts);
    }));

  test('examples/predict.ts and examples/evaluate.ts say in one line that a checkpoint is missing, and exit 1', () => {
    for (const script of ['examples/predict.ts', 'examples/evaluate.ts']) {
      const args = script.endsWith('predict.ts') ? ['no/such.safetensors', 'x.png'] : ['no/such.safetensors'];
      // The runtime running this test runs the script: `deno run` under Deno, Node with tsx otherwise.
      const runtime = 'Deno' in globalThis ? ['run', '-A', script, ...args] : ['--import', 'tsx', script, ...args];
      const r = spawnSync(process.execPath, runtime, { encoding: 'utf8', env: { ...process.env, NN_BACKEND: 'cpu', NO_COLOR: '1' } });
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !/TensorFlow\.js|tfjs-node|=====|^Hi,/.test(l));
      assert.deepEqual(lines.length, 1, r.stderr);
      assert.match(lines[0], /^error: checkpoint 'no\/such\.safetensors': cannot read: ENOENT/);
    }
  });
});

test('importing the library and training on its cpu backend prints no tfjs banner (its advice to install tfjs-node)', () => {
  const script = "import { selectBackend, dense, prngKey } from './mod.ts'; await selectBackend({ backend: 'cpu' }); dense({ nf: 2 }).init(prngKey(0), [3]);";
  const runtime = 'Deno' in globalThis ? ['eval', '--ext=ts', script] : ['--import', 'tsx', '--input-type=module', '-e', script];
  const r = spawnSync(process.execPath, runtime, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /looks like you are running TensorFlow\.js/);
});
