/**
 * Model-based test of the training loop (fast-check commands): the model
 * holds the step count and the expected parameter, not a copy of the code.
 * With loss = p·c the gradient is c, so SGD with a scheduled learning rate
 * must give p = p0 − c · Σ lr(s) over the steps taken, whatever sequence of
 * steps, checkpoint round trips and schedule look-ups happens in between.
 */
import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRight } from 'fp-ts/lib/Either.js';
import {
  decodeCheckpoint,
  disposeReplacedTrainState,
  disposeTrainState,
  encodeCheckpoint,
  initTrainState,
  type Layer,
  prngKey,
  sgd,
  type TrainState,
  trainStep,
} from '../mod.ts';

const C = 0.5, P0 = 1;
const lrAt = (s: number) => 0.01 * (1 + (s % 7)); // a schedule with a visible period
const linear: Layer<{ p: tf.Tensor }, Record<string, never>> = {
  name: 'linear',
  init: () => ({ params: { p: tf.tensor1d([P0]) }, state: {}, outShape: [1] }),
  apply: (params, state, x) => ({ y: tf.mul(params.p, x as tf.Tensor), state }),
};
const loss = (y: tf.Tensor | readonly tf.Tensor[]) => tf.sum(y as tf.Tensor) as tf.Scalar;
const opt = sgd(lrAt);
const step = trainStep(linear, loss, opt);

interface Model {
  steps: number;
  expected: number;
}
interface Real {
  ts: TrainState;
  x: tf.Tensor;
  y: tf.Tensor;
}

class Steps implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    for (let i = 0; i < this.n; i++) {
      const out = await step(r.ts, { x: r.x, y: r.y });
      disposeReplacedTrainState(r.ts, out.trainState);
      r.ts = out.trainState;
      m.expected -= C * lrAt(m.steps);
      m.steps++;
    }
    assert.equal(r.ts.step, m.steps);
  }
  toString = () => `Steps(${this.n})`;
}

class SaveLoad implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const loaded = decodeCheckpoint('mem', await encodeCheckpoint(r.ts), { model: linear, opt, inShape: [1] });
    assert.ok(isRight(loaded));
    disposeTrainState(r.ts);
    r.ts = loaded.right.trainState;
    assert.equal(r.ts.step, m.steps);
  }
  toString = () => 'SaveLoad';
}

class Check implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const p = (await (r.ts.params as { p: tf.Tensor }).p.data())[0];
    assert.ok(Math.abs(p - m.expected) < 1e-5, `after ${m.steps} steps p = ${p}, expected ${m.expected}`);
  }
  toString = () => 'Check';
}

describe('the training loop, model-based', () => {
  test('steps, checkpoint round trips and checks in any order agree with the model', async () => {
    const commands = [fc.integer({ min: 1, max: 5 }).map((n) => new Steps(n)), fc.constant(new SaveLoad()), fc.constant(new Check())];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 25 }), async (cmds) => {
        const before = tf.memory().numTensors;
        const real: Real = { ts: initTrainState(linear, opt, prngKey(0), [1]), x: tf.fill([1, 1], C), y: tf.zeros([1]) };
        await fc.asyncModelRun(() => ({ model: { steps: 0, expected: P0 }, real }), cmds);
        await new Check().run(
          { steps: real.ts.step, expected: P0 - C * Array.from({ length: real.ts.step }, (_, s) => lrAt(s)).reduce((a, b) => a + b, 0) },
          real,
        );
        disposeTrainState(real.ts);
        real.x.dispose();
        real.y.dispose();
        assert.equal(tf.memory().numTensors, before);
      }),
      { numRuns: 40 },
    );
  });
});
