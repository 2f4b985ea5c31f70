/**
 * Freezing, discriminative learning rates and fineTune against fastai's
 * definitions (fastai/optimizer.py, callback/schedule.py):
 *
 * - `even_mults(start, stop, n)`: `start * (stop/start)**(i/(n-1))`;
 * - `set_hyper(lr, slice)`: `even_mults(lo, hi, n)`, or `[hi/10]*(n-1) + [hi]` without `lo`;
 * - a frozen param (`requires_grad=False`) is not stepped: no update, no
 *   weight decay, no moments; with `train_bn` BatchNorm params still train;
 * - `fine_tune`: `freeze(); fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99)`,
 *   then `base_lr /= 2; unfreeze(); fit_one_cycle(epochs, slice(base_lr/lr_mult, base_lr), pct_start, div)`.
 */
import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adamW,
  ConfigError,
  dense,
  disposeTrainState,
  disposeTree,
  evenMults,
  fineTune,
  fitOneCycle,
  flattenTree,
  freeze,
  groupLrs,
  initTrainState,
  lrSlice,
  mapTree,
  multiTransform,
  oneCycle,
  prngKey,
  scale,
  serial,
  sgd,
  withLabel,
} from '../mod.ts';
import { toyData, toyModel } from './fixtures/toy.ts';

const values = (tree: Parameters<typeof flattenTree>[0]) => new Map(flattenTree(tree).map(([p, t]) => [p, Array.from(t.dataSync())]));

describe('parameter groups, as fastai defines them', () => {
  test('evenMults and groupLrs follow even_mults and set_hyper', () => {
    for (const [lo, hi, n] of [[1e-5, 1e-3, 3], [1e-4, 1e-2, 5], [3e-4, 3e-3, 2], [1e-3, 1e-2, 1]] as const) {
      const ref = n === 1 ? [hi] : Array.from({ length: n }, (_, i) => lo * (hi / lo) ** (i / (n - 1)));
      evenMults(lo, hi, n).forEach((v, i) => assert.ok(Math.abs(v / ref[i] - 1) < 1e-12, `${lo} ${hi} ${n}`));
      assert.deepEqual(groupLrs(lrSlice(lo, hi), n), evenMults(lo, hi, n));
      assert.deepEqual(groupLrs(lrSlice(hi), n), [...new Array(n - 1).fill(hi / 10), hi]);
      assert.deepEqual(groupLrs(hi, n), new Array(n).fill(hi));
    }
  });

  test('multiTransform gives each part its own transformation and state; an unlabelled param is refused by name', () => {
    const params = { body: { w: tf.ones([2, 2]) }, head: { w: tf.ones([2, 2]) } };
    const opt = multiTransform({ a: adamW(1e-2), b: scale(-1) }, (p) => (p.startsWith('head') ? 'b' : 'a'));
    const s0 = opt.init(params);
    assert.deepEqual(Object.keys(s0), ['a', 'b']);
    assert.ok(flattenTree(s0.a).every(([p]) => !p.includes('head')), 'the body optimizer holds state for the head');
    const grads = { body: { w: tf.fill([2, 2], 0.5) }, head: { w: tf.fill([2, 2], 0.5) } };
    const { updates, state } = opt.update(grads, s0, params);
    assert.deepEqual(values(updates).get('head.w'), [-0.5, -0.5, -0.5, -0.5]);
    assert.ok(values(updates).get('body.w')!.every((v) => Math.abs(v + 1e-2 * (1 + 0.01)) < 1e-4)); // Adam's first step is lr·sign, plus decay lr·wd·w
    const bad = multiTransform({ a: sgd(1) }, () => 'z');
    assert.throws(() => bad.init(params), (e: unknown) => e instanceof ConfigError && /param body\.w is labelled "z", expected one of "a"/.test(e.message));
    disposeTree({ params, grads, s0, updates, state });
  });

  test('frozen params get no update, no decay and no state; BatchNorm params under a frozen prefix still train unless trainBn is false', () => {
    const { params, state } = toyModel().init(prngKey(0), [8, 8, 1]);
    const grads = mapTree(params, (t) => tf.onesLike(t));
    for (const trainBn of [true, false]) {
      const opt = freeze(adamW(1e-2), ['body'], { trainBn });
      const s0 = opt.init(params);
      const held = flattenTree(s0.trainable).map(([p]) => p);
      assert.ok(!held.some((p) => p.includes('body.conv')), 'the optimizer keeps moments for a frozen conv');
      assert.equal(held.some((p) => p.includes('body.bn')), trainBn);
      const u = opt.update(grads, s0, params);
      for (const [p, v] of values(u.updates)) {
        const frozen = p.startsWith('body') && !(trainBn && p.startsWith('body.bn'));
        assert.equal(v.every((x) => x === 0), frozen, `${p} (trainBn ${trainBn})`);
      }
      disposeTree({ s0, u: u.updates, s1: u.state });
    }
    disposeTree({ params, state, grads });
  });
});

describe('fitOneCycle with groups and frozen prefixes', () => {
  test('each group gets the one-cycle schedule at its own rate: lrSlice(1e-3, 1e-1) over two groups is 100× at every step', async () => {
    const data = toyData(16, 8), schedules: ((step: number) => number)[] = [];
    const r = await fitOneCycle(toyModel(), data, {
      epochs: 1,
      lrMax: lrSlice(1e-3, 1e-1),
      groups: [['body'], ['head']],
      observers: [],
      makeOpt: (lr) => (schedules.push(lr), sgd(lr)),
    });
    assert.equal(schedules.length, 2);
    const total = data.train.length, one = oneCycle({ lrMax: 1e-3 }).lr;
    for (let s = 0; s < total; s++) {
      assert.ok(Math.abs(schedules[0](s) / one(s / total) - 1) < 1e-9, `group 0 at step ${s}`);
      assert.ok(Math.abs(schedules[1](s) / schedules[0](s) / 100 - 1) < 1e-9, `group 1 at step ${s}`);
    }
    disposeTrainState(r.trainState);
    await assert.rejects(
      () => fitOneCycle(toyModel(), data, { epochs: 1, lrMax: 1e-3, groups: [['head']], observers: [] }),
      /fitOneCycle\.groups: param body\.\S+ is in no group/,
    );
  });

  test('frozen: body conv params stay bit-identical over a fit (its BatchNorm trains, trainBn), the rest moves', async () => {
    const data = toyData(16, 8), model = toyModel();
    const ts = initTrainState(model, adamW(1e-3), prngKey(3), [8, 8, 1]);
    const before = values(ts.params);
    disposeTrainState(ts);
    const r = await fitOneCycle(model, data, { epochs: 2, lrMax: 1e-2, frozen: ['body'], key: prngKey(3), observers: [] });
    const after = values(r.trainState.params);
    for (const [p, v] of before) assert.equal(JSON.stringify(after.get(p)) === JSON.stringify(v), p.startsWith('body.conv'), p);
    disposeTrainState(r.trainState);
  });
});

describe('fineTune', () => {
  test("runs fastai's two phases: the body frozen first, then everything at slice(base_lr/2/lr_mult, base_lr/2)", async () => {
    const data = toyData(16, 8);
    const model = serial(withLabel('body', toyModel()), withLabel('head', dense({ nf: 3 })));
    const before = tf.memory().numTensors;
    const r = await fineTune(model, data, { epochs: 2, freezeEpochs: 1, groups: [['body'], ['head']], observers: [] });
    assert.equal(r.frozenHistory.length, 1);
    assert.equal(r.history.length, 2);
    assert.equal(r.trainState.step, 2 * data.train.length);
    disposeTrainState(r.trainState);
    assert.equal(tf.memory().numTensors, before, 'fineTune left tensors behind');
    await assert.rejects(() => fineTune(model, data, { epochs: 1, observers: [] }), /fineTune\.groups: expected at least 2 groups/);
    await assert.rejects(() => fineTune(model, data, { epochs: 1, groups: [['body'], ['head']], baseLr: -1 }), /fineTune\.baseLr/);
    await assert.rejects(() => fineTune(model, data, { epochs: 1, groups: [['body']], observers: [] }), /fineTune\.groups/);
  });
});
