import { assertClose, assertNoLeak, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  adam,
  adamW,
  addDecayedWeights,
  type AnyTransformation,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  disposeTree,
  flattenTree,
  masked,
  momentum,
  rmsprop,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  stepParams,
  type Tree,
  weightsOnly,
} from '../mod.ts';
import { disposeReplaced } from '../src/tree.ts';

/**
 * Run `steps` updates of `opt` from the tree `start` with gradients `grad(params, i)`; returns the final leaves as numbers,
 * by path. `fused` steps through {@link stepParams} (the transformation's `updateAndApply` where it has one).
 */
const runTree = (opt: AnyTransformation, start: Tree, grad: (params: Tree, i: number) => Tree, steps: number, fused = false): Record<string, number[]> => {
  let params = start;
  let state = opt.init(params);
  for (let i = 0; i < steps; i++) {
    const g = grad(params, i);
    let r: { params: Tree; state: Tree };
    if (fused) r = stepParams(opt, g, state, params);
    else {
      const u = opt.update(g, state, params);
      r = { params: applyUpdates(params, u.updates), state: u.state };
      disposeTree(u.updates);
    }
    const next = r.params;
    [g, params].forEach(disposeTree);
    disposeReplaced(state, r.state);
    params = next;
    state = r.state;
  }
  const out = Object.fromEntries(flattenTree(params).map(([path, t]) => [path, Array.from(t.dataSync())]));
  disposeTree(params);
  disposeTree(state);
  return out;
};

/** {@link runTree} on one vector param `p` with gradients `grad(p)`; returns the final `p`. */
const run = (opt: AnyTransformation, start: number[], grad: (p: number[]) => number[], steps: number): number[] =>
  runTree(opt, { p: tf.tensor(start) }, (params) => ({ p: tf.tensor(grad(Array.from((params as { p: tf.Tensor }).p.dataSync()))) }), steps).p;

// ---------------------------------------------------------------------------
// Reference updates: textbook formulas on plain numbers
// ---------------------------------------------------------------------------

const refAdam = (gs: number[], lr: number, b1: number, b2: number, eps: number, wd = 0, p0 = 1) => {
  let p = p0, m = 0, v = 0;
  gs.forEach((g, i) => {
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const mh = m / (1 - b1 ** (i + 1)), vh = v / (1 - b2 ** (i + 1));
    p = p - lr * (mh / (Math.sqrt(vh) + eps) + wd * p);
  });
  return p;
};

describe('optimizers match their textbook updates', () => {
  const gs = [0.5, -1.2, 2.0, 0.1, -0.3];
  const replay = (opt: AnyTransformation) => {
    let i = 0;
    return run(opt, [1], () => [gs[i++]], gs.length)[0];
  };

  test('sgd: p - lr g', () => {
    assertClose([replay(sgd(0.1))], [1 - 0.1 * gs.reduce((a, b) => a + b)], 1e-6);
  });

  test('momentum and Nesterov', () => {
    let p = 1, t = 0, pn = 1, tn = 0;
    for (const g of gs) {
      t = 0.9 * t + g;
      p -= 0.1 * t;
      tn = 0.9 * tn + g;
      pn -= 0.1 * (g + 0.9 * tn);
    }
    assertClose([replay(momentum(0.1, { momentum: 0.9 }))], [p], 1e-6);
    assertClose([replay(momentum(0.1, { momentum: 0.9, nesterov: true }))], [pn], 1e-6);
  });

  test('rmsprop', () => {
    let p = 1, v = 0;
    for (const g of gs) {
      v = 0.9 * v + 0.1 * g * g;
      p -= 0.01 * g / (Math.sqrt(v) + 1e-8);
    }
    assertClose([replay(rmsprop(0.01, { decay: 0.9 }))], [p], 1e-6);
  });

  test('adam (optax defaults) and adamW (fastai defaults, decoupled decay)', () => {
    assertClose([replay(adam(0.01))], [refAdam(gs, 0.01, 0.9, 0.999, 1e-8)], 1e-6);
    // adamW decays weights (rank >= 2) only; use a 1x1 matrix to see the decay.
    const w = runTree(adamW(0.01), { w: tf.tensor([[1]]) }, (_, i) => ({ w: tf.tensor([[gs[i]]]) }), gs.length).w;
    assertClose(w, [refAdam(gs, 0.01, 0.9, 0.99, 1e-5, 0.01)], 1e-6);
  });

  test('adamW (one fused pass, and applied in it) gives the updates of its chain, schedules and masks included', () => {
    // A weight (decays), a bias and a BatchNorm-like vector (do not), with scheduled lr, b1 and decay.
    const lr = (s: number) => 1e-2 * (1 + Math.cos(s)), b1 = (s: number) => 0.85 + 0.01 * (s % 3), wd = (s: number) => 0.05 / (s + 1);
    const fused = adamW(lr, { b1, weightDecay: wd });
    // Nesting Adam in a chain of its own hides the pattern from the executor: the links run one by one.
    const chained = chain(chain(scaleByAdam({ b1, b2: 0.99, eps: 1e-5 })), masked(addDecayedWeights(wd), weightsOnly), scaleByLearningRate(lr));
    const trajectory = (opt: AnyTransformation, applied = false) =>
      runTree(
        opt,
        { w: tf.tensor([[0.5, -1], [2, 0.25]]), b: tf.tensor([0.1, -0.3]), bn: { gamma: tf.tensor([1, 1]) } },
        (params, i) =>
          tf.tidy(() => ({
            w: tf.sin(tf.mul((params as { w: tf.Tensor }).w, i + 1)),
            b: tf.fill([2], (i % 4) - 1.5),
            bn: { gamma: tf.tensor([0.2 * i, -0.1]) },
          })),
        12,
        applied,
      );
    const [a, b, c] = [trajectory(fused), trajectory(chained), trajectory(fused, true)];
    assert.deepEqual(Object.keys(a), ['b', 'bn.gamma', 'w']);
    Object.entries(a).forEach(([path, leaf]) => assertClose(leaf, b[path], 1e-6, path));
    Object.entries(c).forEach(([path, leaf]) => assertClose(leaf, b[path], 1e-6, `${path} (applied)`));
  });

  test('the chain executor runs adamW (and any chain of the same links) as one Adam op per leaf', async () => {
    const links = () => [scaleByAdam({ b2: 0.99, eps: 1e-5 }), masked(addDecayedWeights(0.01), weightsOnly), scaleByLearningRate(1e-3)] as const;
    const kernelsPerStep = async (opt: AnyTransformation) => {
      const params = { w: tf.ones([3, 3]), b: tf.ones([3]) }, grads = { w: tf.fill([3, 3], 0.5), b: tf.fill([3], 0.5) };
      const state = opt.init(params);
      const info = await tf.profile(() => {
        const r = stepParams(opt, grads, state, params);
        [r.params, r.state].forEach(disposeTree);
      });
      [params, grads, state].forEach(disposeTree);
      return info.kernels.length;
    };
    const [a, b, c] = links();
    const fused = await kernelsPerStep(adamW(1e-3)), sameLinks = await kernelsPerStep(chain(a, b, c));
    const oneByOne = await kernelsPerStep(chain(chain(a), b, c));
    assert.equal(fused, sameLinks, 'adamW is its chain');
    // One by one, each leaf also pays for the rate, the add (and the decay, on weights).
    assert.ok(2 * fused <= oneByOne, `fused ${fused} kernels, one by one ${oneByOne}`);
  });

  test('scaleByAdam with eps inside the root', () => {
    let p = 1, m = 0, v = 0;
    gs.forEach((g, i) => {
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      p -= 0.01 * (m / (1 - 0.9 ** (i + 1))) / (Math.sqrt(v / (1 - 0.999 ** (i + 1)) + 1e-3) + 0);
    });
    assertClose([replay(chain(scaleByAdam({ eps: 0, epsRoot: 1e-3 }), scaleByLearningRate(0.01)))], [p], 1e-6);
  });

  test('hyperparameters may be schedules of the step', () => {
    const lrs = [0.1, 0.2, 0.3, 0.4, 0.5];
    let p = 1;
    gs.forEach((g, i) => (p -= lrs[i] * g));
    assertClose([replay(sgd((s) => lrs[s]))], [p], 1e-6);
    // A beta1 schedule: bias correction uses the current beta1, as fastai does.
    const b1s = [0.95, 0.9, 0.85, 0.9, 0.95];
    let q = 1, m = 0, v = 0;
    gs.forEach((g, i) => {
      m = b1s[i] * m + (1 - b1s[i]) * g;
      v = 0.99 * v + 0.01 * g * g;
      q -= 0.01 * (m / (1 - b1s[i] ** (i + 1))) / (Math.sqrt(v / (1 - 0.99 ** (i + 1))) + 1e-5);
    });
    assertClose([replay(adam(0.01, { b1: (s) => b1s[s], b2: 0.99, eps: 1e-5 }))], [q], 1e-6);
  });

  test('clipByGlobalNorm scales the whole tree to the max norm', () => {
    tf.tidy(() => {
      const g = { a: tf.tensor([3]), b: tf.tensor([4]) }; // norm 5
      const r = clipByGlobalNorm(1).update(g, {}, g);
      assertClose([...(r.updates as typeof g).a.dataSync(), ...(r.updates as typeof g).b.dataSync()], [0.6, 0.8]);
      const small = clipByGlobalNorm(10).update(g, {}, g);
      assertClose((small.updates as typeof g).a.dataSync(), [3]);
    });
  });

  test('masked applies weight decay to weights only, not batchNorm or bias', () => {
    tf.tidy(() => {
      const params = { conv: { weight: tf.ones([1, 1, 1, 1]) }, bn: { gamma: tf.ones([1]) }, head: { bias: tf.ones([1]) } };
      const zeros = { conv: { weight: tf.zeros([1, 1, 1, 1]) }, bn: { gamma: tf.zeros([1]) }, head: { bias: tf.zeros([1]) } };
      const opt = masked(addDecayedWeights(0.5), weightsOnly);
      const r = opt.update(zeros, opt.init(params), params);
      const u = r.updates as typeof params;
      assertClose([u.conv.weight.dataSync()[0], u.bn.gamma.dataSync()[0], u.head.bias.dataSync()[0]], [0.5, 0, 0]);
    });
  });

  test('updates are pure and leak-free', () => {
    for (const opt of [sgd(0.1), momentum(0.1), rmsprop(0.01), adam(0.01), adamW(0.01), chain(clipByGlobalNorm(1), adamW(1e-3))]) {
      assertNoLeak(() => run(opt, [1, 2], (p) => p, 5), opt.name);
    }
  });

  test('bad hyperparameters fail at construction', () => {
    assert.throws(() => sgd(-1), /sgd.lr: expected non-negative number or schedule, got -1/);
    assert.throws(() => adam(1e-3, { b1: 1 }), /adam.b1: expected number in \[0, 1\) or schedule, got 1/);
    assert.throws(() => clipByGlobalNorm(0), /clipByGlobalNorm.maxNorm: expected positive number, got 0/);
  });

  test('a schedule that returns a non-finite value stops the update with a ConfigError, and leaks nothing', () => {
    const opt = sgd((s) => (s < 1 ? 0.1 : NaN));
    const params = { w: tf.ones([2]) }, grads = { w: tf.ones([2]) };
    let state = opt.init(params);
    const first = stepParams(opt, grads, state, params);
    disposeTree(first.params);
    disposeTree(state);
    state = first.state;
    assertNoLeak(() => assert.throws(() => stepParams(opt, grads, state, params), /schedule: expected a finite number at step 1, got NaN/));
    [params, grads, state].forEach(disposeTree);
  });
});

describe('every optimizer converges', () => {
  const table: [string, AnyTransformation, number][] = [
    ['sgd', sgd(0.1), 300],
    ['momentum', momentum(0.05, { momentum: 0.9 }), 300],
    ['nesterov', momentum(0.05, { momentum: 0.9, nesterov: true }), 300],
    ['rmsprop', rmsprop(0.01), 600],
    ['adam', adam(0.05), 600],
    ['adamW', adamW(0.05, { weightDecay: 0 }), 600],
    ['clipped adamW', chain(clipByGlobalNorm(1), adamW(0.05, { weightDecay: 0 })), 600],
  ];
  for (const [name, opt, steps] of table) {
    test(`${name} on a quadratic bowl`, () => {
      fc.assert(
        fc.property(fc.tuple(fc.float({ min: -3, max: 3, noNaN: true }), fc.float({ min: -3, max: 3, noNaN: true })), ([a, b]) => {
          // f(p) = (p0 - 1)^2 + 4 (p1 + 2)^2
          const p = run(opt, [a, b], ([x, y]) => [2 * (x - 1), 8 * (y + 2)], steps);
          return Math.abs(p[0] - 1) < 0.05 && Math.abs(p[1] + 2) < 0.05;
        }),
        { numRuns: 5 },
      );
    });
  }

  const rosenbrock: [string, AnyTransformation, number][] = [
    ['sgd', sgd(1e-3), 3000],
    ['momentum', momentum(1e-3, { momentum: 0.9 }), 3000],
    ['nesterov', momentum(1e-3, { momentum: 0.9, nesterov: true }), 3000],
    ['rmsprop', rmsprop(1e-3), 3000],
    ['adam', adam(2e-2), 3000],
    ['adamW', adamW(2e-2, { weightDecay: 0 }), 3000],
  ];
  for (const [name, opt, steps] of rosenbrock) {
    test(`${name} on Rosenbrock gets close to (1, 1)`, () => {
      // f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, from (-1, 1): a long curved valley.
      const p = run(opt, [-1, 1], ([x, y]) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], steps);
      const f = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2;
      assert.ok(f < 0.05 && Math.abs(p[0] - 1) < 0.25, `${name} ended at (${p[0]}, ${p[1]}), f = ${f}`);
    });
  }
});
