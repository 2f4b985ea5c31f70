import { assertNoLeak, tf, withTempDir } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  adamW,
  crossEntropy,
  disposeTrainState,
  DivergenceError,
  epochTable,
  evaluate,
  fit,
  fitOneCycle,
  formatEpochTable,
  initTrainState,
  type Observer,
  prngKey,
  sgd,
  trainStep,
  treesEqual,
} from '../mod.ts';
import { jsonLog, loadCheckpointOrThrow } from '../node.ts';
import { progressBar } from '../mod.ts';
import { saveCheckpoints } from '../src/io/save_checkpoints.ts';
import { toyData, toyModel } from './fixtures/toy.ts';

const sink = (isTTY = false) => {
  const chunks: string[] = [];
  return { out: { write: (s: string) => chunks.push(s), isTTY, columns: 100, cursorTo() {}, clearLine() {}, moveCursor() {} }, text: () => chunks.join('') };
};

describe('trainStep', () => {
  test('is pure: inputs intact, equal calls give equal states, only new tensors returned', async () => {
    const model = toyModel(), opt = adamW(1e-2);
    const ts = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
    const step = trainStep(model, crossEntropy, opt);
    const batch = toyData().train.batches(0)[Symbol.iterator]().next().value!;
    const before = tf.memory().numTensors;
    const a = await step(ts, batch), b = await step(ts, batch);
    assert.equal(a.finite, true, 'the step did not report its state finite');
    assert.ok(treesEqual(a.trainState.params, b.trainState.params) && treesEqual(a.trainState.optState, b.trainState.optState));
    assert.equal(a.loss, b.loss);
    assert.equal(a.trainState.step, 1);
    assert.ok(!treesEqual(a.trainState.params, ts.params), 'the step changed nothing');
    disposeTrainState(a.trainState);
    disposeTrainState(b.trainState);
    assert.equal(tf.memory().numTensors, before, 'the step left tensors behind besides its result');
    disposeTrainState(ts);
    batch.x.dispose();
    batch.y.dispose();
  });
});

describe('fit', () => {
  test('is leak-free over 320 steps: numTensors is constant after the first step', async () => {
    const counts: number[] = [], epochCounts: number[] = [];
    const watch: Observer = {
      onBatchEnd: () => void counts.push(tf.memory().numTensors),
      onEpochEnd: () => void epochCounts.push(tf.memory().numTensors),
    };
    const before = tf.memory().numTensors;
    const { trainState } = await fit(toyModel(), toyData(), { epochs: 40, opt: adamW(1e-2), observers: [watch] });
    assert.equal(counts.length, 320);
    assert.ok(epochCounts.every((c) => c === epochCounts[0]), `tensor count drifted across epochs: ${epochCounts.join(' ')}`);
    // Within an epoch the only variation is the prefetched next batch (x and y).
    const inEpoch = counts.filter((_, i) => i % 8 !== 7);
    assert.ok(inEpoch.every((c) => c === inEpoch[0]), `tensor count drifted within epochs: ${inEpoch[0]} -> ${Math.max(...inEpoch)}`);
    assert.ok(counts.filter((_, i) => i % 8 === 7).every((c) => c === inEpoch[0] - 2), 'the last step of an epoch should hold no prefetched batch');
    disposeTrainState(trainState);
    assert.equal(tf.memory().numTensors, before);
  });

  test('fitOneCycle learns the toy task and prints the epoch table', async () => {
    const s = sink();
    const data = toyData();
    const { trainState, history } = await fitOneCycle(toyModel(), data, { epochs: 6, lrMax: 2e-2, observers: [epochTable({ out: s.out })] });
    const lines = s.text().trim().split('\n');
    assert.match(lines[0], /^backend: cpu \(requested by option\)$/); // the engine and why: the helpers chose cpu
    assert.match(lines[1], /^epoch\s+train_loss\s+valid_loss\s+accuracy\s+time$/);
    assert.equal(lines.length, 2 + 6);
    assert.match(lines[7], /^5\s+\d\.\d{6}\s+\d\.\d{6}\s+\d\.\d{6}\s+\d\d:\d\d$/);
    assert.ok(history[5].trainLoss < history[0].trainLoss, 'train loss did not fall');
    assert.ok(history[5].metrics.accuracy > 0.9, `accuracy ${history[5].metrics.accuracy}`);
    const again = await evaluate(toyModel(), trainState, data.valid);
    assert.equal(again.metrics.accuracy, history[5].metrics.accuracy);
    disposeTrainState(trainState);
  });

  test('fit is deterministic given the key', async () => {
    const run = async () => (await fit(toyModel(), toyData(), { epochs: 2, opt: adamW(1e-2), key: prngKey(7), observers: [] })).trainState;
    const a = await run(), b = await run();
    assert.ok(treesEqual(a.params, b.params) && treesEqual(a.state, b.state));
    disposeTrainState(a);
    disposeTrainState(b);
  });

  test('on a TTY a progress bar shows batches, time left and loss; plain rows otherwise', async () => {
    const s = sink(true);
    const r = await fit(toyModel(), toyData(), { epochs: 1, opt: adamW(1e-2), observers: [epochTable({ out: s.out })] });
    assert.match(s.text(), /\|█{30}\| 8\/8 \d\d:\d\d<\d\d:\d\d loss \d\.\d{4}/);
    disposeTrainState(r.trainState);
    assert.equal(
      formatEpochTable([{ epoch: 0, trainLoss: 0.5, validLoss: 0.25, metrics: { accuracy: 0.9 }, seconds: 75 }], ['accuracy']),
      'epoch     train_loss  valid_loss  accuracy  time\n0         0.500000    0.250000    0.900000  01:15',
    );
  });

  test('the progress bar: drawn in place on a TTY at most every 100 ms, fitted to the width, erased when done; nothing elsewhere', () => {
    let clock = 0, text = '';
    const tty = { write: (t: string) => (text += t), isTTY: true, columns: 50 };
    const bar = progressBar(tty, 4, () => clock);
    bar.update(1, 'loss 0.5000');
    clock = 50;
    bar.update(2, 'loss 0.4000'); // within 100 ms: not drawn
    clock = 2000;
    bar.update(4, 'loss 0.3000');
    const frames = text.split('\r').filter(Boolean);
    assert.deepEqual(frames.map((f) => f.trimEnd()), [
      `|${'█'.repeat(8)}${'-'.repeat(22)}| 1/4 00:00<00:00 loss 0.5000`.slice(0, 49).trimEnd(),
      `|${'█'.repeat(30)}| 4/4 00:02<00:00 loss 0.3000`.slice(0, 49).trimEnd(),
    ]);
    text = '';
    bar.done();
    assert.match(text, /^\r +\r$/);
    let plain = '';
    const notTty = progressBar({ write: (t: string) => (plain += t) }, 4);
    notTty.update(4, 'x');
    notTty.done();
    assert.equal(plain, '');
    assert.throws(() => progressBar(tty, -1), /progressBar\.total: expected non-negative integer, got -1/);
    assert.throws(() => progressBar({} as never, 4), /progressBar\.out: expected a stream \{ write\(s\) \}/);
    assert.throws(() => progressBar(tty, 4).update(1.5), /progressBar\.update\.done: expected non-negative integer, got 1\.5/);
  });

  test('jsonLog writes one JSON line per epoch', () =>
    withTempDir('log', async (dir) => {
      const file = path.join(dir, 'log.jsonl');
      const r = await fit(toyModel(), toyData(), { epochs: 2, opt: adamW(1e-2), observers: [jsonLog(file)] });
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.type), ['begin', 'epoch', 'epoch']);
      assert.equal(lines[2].epoch, 1);
      assert.ok(lines[2].metrics.accuracy >= 0 && Number.isFinite(lines[2].trainLoss));
      disposeTrainState(r.trainState);
    }));

  test('a non-finite loss stops fit, naming step and epoch; the last good state is kept and saved', () =>
    withTempDir('divergence', async (dir) => {
      const file = path.join(dir, 'last-good.safetensors');
      const model = toyModel();
      const opt = sgd(1e30);
      const before = tf.memory().numTensors;
      let caught: unknown;
      try {
        await fit(model, toyData(), { epochs: 3, opt, observers: [], callbacks: [saveCheckpoints({ path: file })] });
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof DivergenceError, `expected a DivergenceError, got ${caught}`);
      const e = caught as DivergenceError;
      assert.match(e.message, new RegExp(`training diverged at step ${e.step} \\(epoch ${e.epoch}\\): loss (NaN|-?Infinity)`));
      assert.ok(e.message.includes(`it was saved to '${file}'`), e.message);
      assert.equal(e.lastGood.step, e.step);
      assert.ok(!tf.tidy(() => tf.any(tf.isNaN((e.lastGood.params as { head: { weight: tf.Tensor } }).head.weight)).dataSync()[0]));
      const saved = loadCheckpointOrThrow(file, { model, opt, inShape: [8, 8, 1] });
      assert.ok(treesEqual(saved.trainState.params, e.lastGood.params));
      disposeTrainState(saved.trainState);
      disposeTrainState(e.lastGood);
      assert.equal(tf.memory().numTensors, before);
    }));

  test('bad options are reported by name', async () => {
    await assert.rejects(fit(toyModel(), toyData(), { epochs: 0, opt: sgd(0.1) }), /fit.epochs: expected positive integer, got 0/);
    assertNoLeak(() => undefined);
  });
});
