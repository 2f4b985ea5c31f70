/**
 * The tracker callbacks against fastai's definitions (fastai/callback/tracker.py):
 * `comp` is `np.less` when the monitor's name holds "loss" or "error", else
 * `np.greater`; `min_delta` is negated for `np.less`; an epoch improves when
 * `comp(value - min_delta, best)`, `best` starting at ±inf; EarlyStopping
 * counts epochs without improvement in `wait` and stops once `wait >= patience`.
 * And CSVLogger's columns: `epoch,train_loss,valid_loss,<metrics>,time`.
 */
import { tf, withTempDir } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { adamW, ConfigError, disposeTrainState, earlyStopping, type EpochRow, epochTable, fit, type Observer } from '../mod.ts';
import { csvLogger, loadCheckpointOrThrow, saveCheckpoints } from '../node.ts';
import { tracker } from '../src/train/tracker.ts';
import { toyData, toyModel } from './fixtures/toy.ts';

const row = (epoch: number, validLoss: number, metrics: Record<string, number> = {}): EpochRow => ({ epoch, trainLoss: 1, validLoss, metrics, seconds: 1 });

/** fastai's TrackerCallback.after_epoch, transcribed, as the reference; our names in fastai's spelling (validLoss: valid_loss). */
const fastaiImproved = (monitor: string, minDelta: number) => {
  const less = /loss|error/.test(monitor.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  const d = less ? -minDelta : minDelta;
  let best = less ? Infinity : -Infinity;
  return (v: number) => {
    const better = less ? v - d < best : v - d > best;
    if (better) best = v;
    return better;
  };
};

describe('tracker callbacks, as fastai defines them', () => {
  test("improvement follows fastai's comparison, direction and min_delta, for losses, errors and metrics", () => {
    const sequences = [[1, 0.9, 0.95, 0.899, 0.85, NaN, 0.2], [0.5, 0.6, 0.6, 0.61, 0.7, 0.69, 0.9]];
    for (const [monitor, better] of [['validLoss', 'lower'], ['error_rate', 'lower'], ['accuracy', 'higher']] as const) {
      for (const minDelta of [0, 0.01, 0.05]) {
        for (const values of sequences) {
          const ours = tracker('t', { monitor, minDelta }), ref = fastaiImproved(monitor, minDelta);
          assert.equal(ours.better, better, monitor);
          values.forEach((v, i) => {
            const r = monitor === 'validLoss' ? row(i, v) : row(i, 0, { [monitor]: v });
            assert.equal(ours.improved(r), ref(v), `${monitor}, minDelta ${minDelta}, value ${v} at ${i}`);
          });
        }
      }
    }
    // An explicit direction overrides the name.
    const t = tracker('t', { monitor: 'accuracy', better: 'lower' });
    assert.ok(t.improved(row(0, 0, { accuracy: 0.5 })) && t.improved(row(1, 0, { accuracy: 0.4 })) && !t.improved(row(2, 0, { accuracy: 0.45 })));
    assert.throws(
      () => tracker('earlyStopping', { monitor: 'acc' }).improved(row(0, 1, { accuracy: 1 })),
      (e: unknown) => e instanceof ConfigError && /earlyStopping\.monitor: expected one of 'trainLoss', 'validLoss', 'accuracy', got "acc"/.test(e.message),
    );
  });

  test('earlyStopping stops once wait >= patience, naming the epoch of the last improvement', () => {
    const losses = [1, 0.9, 0.95, 0.93, 0.8];
    for (const patience of [1, 2, 3]) {
      const cb = earlyStopping({ patience });
      cb.onTrainBegin?.();
      // fastai: wait resets on improvement, else grows; the stop comes at the first epoch where wait reaches patience.
      let wait = 0, expectedStop: number | undefined;
      const ref = fastaiImproved('valid_loss', 0);
      losses.forEach((v, i) => (ref(v) ? (wait = 0) : wait++, expectedStop ??= wait >= patience ? i : undefined));
      const verdicts = losses.map((v, i) => cb.onEpochEnd?.(row(i, v), undefined as never));
      const stopAt = verdicts.findIndex((v) => v !== undefined);
      assert.equal(stopAt === -1 ? undefined : stopAt, expectedStop, `patience ${patience}`);
      if (expectedStop !== undefined) {
        assert.deepEqual(verdicts[stopAt], { stop: `No improvement in validLoss since epoch ${expectedStop - patience}: early stopping` });
      }
    }
  });

  test('fit ends after the epoch earlyStopping stops on, reports why in its result, table and observers, and leaks nothing', async () => {
    let text = '', told: string | undefined;
    const out = { write: (s: string) => (text += s) };
    const spy: Observer = { onTrainEnd: (_h, stopped) => (told = stopped) };
    // A learning rate of 0: nothing changes, so accuracy never improves after epoch 0.
    const data = toyData(32, 8);
    const before = tf.memory().numTensors;
    const r = await fit(toyModel(), data, {
      epochs: 6,
      opt: adamW(0),
      callbacks: [earlyStopping({ monitor: 'accuracy', patience: 2 })],
      observers: [epochTable({ out }), spy],
    });
    assert.equal(r.history.length, 3);
    assert.equal(r.stopped, 'No improvement in accuracy since epoch 0: early stopping');
    assert.equal(told, r.stopped);
    assert.ok(text.trimEnd().endsWith(r.stopped!), text);
    assert.equal(r.trainState.step, 3 * data.train.length);
    disposeTrainState(r.trainState);
    assert.equal(tf.memory().numTensors, before);
    // Each fit starts afresh: the same callback object does not carry its best over.
    const cb = earlyStopping({ monitor: 'accuracy', patience: 2 });
    for (let k = 0; k < 2; k++) {
      const again = await fit(toyModel(), data, { epochs: 6, opt: adamW(0), callbacks: [cb], observers: [] });
      assert.equal(again.history.length, 3);
      disposeTrainState(again.trainState);
    }
  });

  test("saveCheckpoints 'best' saves exactly on the tracker's improvements, for any monitor", () =>
    withTempDir('best', async (dir) => {
      const file = path.join(dir, 'best.safetensors');
      const { trainState } = await fit(toyModel(), toyData(16, 8), { epochs: 1, opt: adamW(1e-3), observers: [] });
      // A save replaces the file atomically (a rename), so a new inode means a save.
      const inode = () => (fs.existsSync(file) ? fs.statSync(file).ino : -1);
      const cases = [['trainLoss', [2, 1.5, 1.7, 1.4, 1.4]], ['error_rate', [0.3, 0.2, 0.25, 0.1, 0.1]], ['accuracy', [0.5, 0.7, 0.6, 0.8, 0.8]]] as const;
      for (const [monitor, values] of cases) {
        fs.rmSync(file, { force: true });
        const cb = saveCheckpoints({ path: file, mode: 'best', monitor }), ref = fastaiImproved(monitor, 0);
        cb.onTrainBegin?.();
        for (const [i, v] of values.entries()) {
          const r = monitor === 'trainLoss' ? { ...row(i, 1), trainLoss: v } : row(i, 1, { [monitor]: v });
          const was = inode();
          await cb.onEpochEnd?.(r, trainState);
          assert.equal(inode() !== was, ref(v), `${monitor}: epoch ${i} (value ${v})`);
        }
      }
      const loaded = loadCheckpointOrThrow(file, { model: toyModel(), opt: adamW(1e-3), inShape: [8, 8, 1] });
      assert.equal(loaded.trainState.step, trainState.step);
      disposeTrainState(loaded.trainState);
      disposeTrainState(trainState);
    }));

  test("csvLogger writes fastai's columns and every value of the history, synced per epoch; append keeps earlier runs", () =>
    withTempDir('csv', async (dir) => {
      const file = path.join(dir, 'history.csv');
      const r = await fit(toyModel(), toyData(32, 8), { epochs: 2, opt: adamW(1e-2), observers: [csvLogger(file)] });
      const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
      assert.equal(lines[0], 'epoch,train_loss,valid_loss,accuracy,time');
      lines.slice(1).forEach((l, i) => {
        const [epoch, trainLoss, validLoss, accuracy, time] = l.split(',');
        const h = r.history[i];
        assert.deepEqual([Number(epoch), Number(trainLoss), Number(validLoss), Number(accuracy)], [h.epoch, h.trainLoss, h.validLoss, h.metrics.accuracy]);
        assert.match(time, /^\d\d:\d\d$/);
      });
      disposeTrainState(r.trainState);
      const again = await fit(toyModel(), toyData(32, 8), { epochs: 1, opt: adamW(1e-2), observers: [csvLogger(file, { append: true })] });
      assert.equal(fs.readFileSync(file, 'utf8').trimEnd().split('\n').length, 3 + 2);
      disposeTrainState(again.trainState);
      assert.throws(() => csvLogger(''), /csvLogger\.file/);
    }));
});

describe('the epoch table in a run of several fits', () => {
  test('names the backend above the first table only, and shows a validation progress bar on a TTY', async () => {
    let text = '';
    const out = { write: (s: string) => (text += s), isTTY: true, columns: 100 };
    for (let k = 0; k < 2; k++) {
      const r = await fit(toyModel(), toyData(32, 8), { epochs: 1, opt: adamW(1e-3), observers: [epochTable({ out })] });
      disposeTrainState(r.trainState);
    }
    assert.equal(text.match(/backend: /g)?.length, 1, text);
    assert.equal(text.match(/epoch +train_loss/g)?.length, 2);
    assert.match(text, /validating/);
  });
});
