/**
 * The laws every layer must obey, as plain checks on one case. Each is async:
 * it resolves when the law holds and rejects with a `LawError` saying how it
 * failed. They are async because they read tensor values, and on a GPU
 * backend (WebGPU) values can only be read with `await t.data()`: a
 * synchronous `dataSync()` is unavailable there. `mod.ts` in this folder lifts
 * them to fast-check async properties (`shapeProperty`, ...).
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { valueAndGrad } from '../autodiff.ts';
import { forward } from '../apply.ts';
import type { AnyLayer, Ctx, Flow, FlowShape, Shape } from '../layer.ts';
import { foldIn, type Key, normal, prngKey, randomBits } from '../random.ts';
import { disposeTree, flattenTree, leaves, mapTree, type Tree, unflattenTree } from '../tree.ts';

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/** One instance to check a law on: a layer, a per-example input shape, a batch size and a seed. */
export interface LayerCase {
  /** The layer under test. */
  readonly layer: AnyLayer;
  /** The per-example input shape (one per branch for a multi-input layer). */
  readonly inShape: FlowShape;
  /** The batch size. */
  readonly batch: number;
  /** Seeds the layer's init and the random input. */
  readonly seed: number;
  /** Shown in failure messages. */
  readonly label?: string;
}

/**
 * A law that does not hold.
 *
 * @example
 * ```ts
 * import type { Empty, Layer } from 'tsnn';
 * import * as laws from 'tsnn/laws';
 *
 * // A layer whose init promises one output shape and whose apply returns its input.
 * const liar: Layer<Empty, Empty> = { name: 'liar', init: () => ({ params: {}, state: {}, outShape: [3] }), apply: (_p, s, x) => ({ y: x, state: s }) };
 * try {
 *   await laws.checkShape({ layer: liar, inShape: [4], batch: 2, seed: 0 });
 * } catch (e) {
 *   if (e instanceof laws.LawError) console.log(e.name); // LawError
 * }
 * ```
 */
export class LawError extends Error {
  /** `'LawError'`, as shown in stack traces. */
  override name = 'LawError';
}

const fail = (c: LayerCase, law: string, detail: string): never => {
  throw new LawError(`${law} law fails for ${c.label ?? c.layer.name} on input ${JSON.stringify(c.inShape)} × batch ${c.batch}: ${detail}`);
};

const isMulti = (s: FlowShape): s is readonly Shape[] => s.length > 0 && Array.isArray(s[0]);

/**
 * A random input for the case, drawn from `key` (one tensor per branch).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { conv2d, prngKey } from 'tsnn';
 * import { caseInput } from 'tsnn/laws';
 *
 * const x = caseInput({ layer: conv2d({ nf: 2 }), inShape: [4, 4, 1], batch: 2, seed: 0 }, prngKey(1));
 * console.log((x as tf.Tensor).shape); // [2, 4, 4, 1]
 * ```
 */
export const caseInput = (c: LayerCase, key: Key): Flow => {
  const one = (s: Shape, k: Key) => {
    const shape = [c.batch, ...s];
    return tf.tensor(normal(k, shape.reduce((a, b) => a * b, 1)), shape, 'float32');
  };
  return isMulti(c.inShape) ? c.inShape.map((s, i) => one(s, foldIn(key, i))) : one(c.inShape as Shape, key);
};

const flowTensors = (y: Flow): tf.Tensor[] => (Array.isArray(y) ? [...y] : [y as tf.Tensor]);
const flowShapes = (y: Flow): number[][] => flowTensors(y).map((t) => t.shape);

/** Dispose what a forward pass made, sparing tensors that were inputs. */
const disposeNew = (made: readonly tf.Tensor[], inputs: readonly tf.Tensor[]): void => {
  const spare = new Set(inputs);
  for (const t of made) if (!spare.has(t) && !t.isDisposed) t.dispose();
};

/**
 * Run `f` with a fresh init of the case and clean up everything afterwards,
 * once `f` has settled (resolved or rejected).
 */
const withInit = async <T>(c: LayerCase, f: (p: Tree, s: Tree, x: Flow, outShape: FlowShape) => T | Promise<T>): Promise<T> => {
  const key = prngKey(c.seed);
  const { params, state, outShape } = c.layer.init(foldIn(key, 0), c.inShape);
  let x: Flow = [];
  try {
    x = caseInput(c, foldIn(key, 1));
    // `return await`, not `return`: the finally must wait for `f` to finish with the tensors.
    return await f(params, state, x, outShape);
  } finally {
    disposeTree(params);
    disposeTree(state);
    flowTensors(x).forEach((t) => t.dispose());
  }
};

const ctxs = (c: LayerCase): [string, Ctx][] => [
  ['eval', { training: false }],
  ['training', { training: true, key: foldIn(prngKey(c.seed), 2) }],
];

// ---------------------------------------------------------------------------
// Reading values: only `await t.data()`, the one read a GPU backend allows
// ---------------------------------------------------------------------------

/** The values of a numeric tensor (the laws read no string tensors). */
type Values = Float32Array | Int32Array | Uint8Array;

/** Copies of the tensors' values, read together (a backend may hand out its own buffer, which a later op could change). */
const read = (ts: readonly tf.Tensor[]): Promise<Values[]> => Promise.all(ts.map(async (t) => ((await t.data()) as Values).slice()));

/**
 * `Promise.all` that lets every promise settle before it rejects, so that no
 * evaluation still holding tensors outlives the check (and its clean-up).
 */
const awaitAll = async <T>(ps: readonly Promise<T>[]): Promise<T[]> => {
  const rs = await Promise.allSettled(ps);
  const failed = rs.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return rs.map((r) => (r as PromiseFulfilledResult<T>).value);
};

/** The scalars `f` computes, stacked in a tidy and read at once. */
const scalars = async (f: () => tf.Tensor[]): Promise<number[]> => {
  const t = tf.tidy(() => tf.stack(f()));
  try {
    return Array.from(await t.data());
  } finally {
    t.dispose();
  }
};

const sameArray = (u: Values, v: Values): boolean => {
  if (u.length !== v.length) return false;
  for (let j = 0; j < u.length; j++) if (!Object.is(u[j], v[j])) return false;
  return true;
};

/** Equal shapes and values, `Object.is` per value (NaN equals NaN, 0 differs from -0). */
const sameValues = async (a: readonly tf.Tensor[], b: readonly tf.Tensor[]): Promise<boolean> => {
  if (a.length !== b.length || a.some((t, i) => t.shape.join() !== b[i].shape.join())) return false;
  const [u, v] = await Promise.all([read(a), read(b)]);
  return u.every((x, i) => sameArray(x, v[i]));
};

/** `treesEqual` of `tree.ts`, reading asynchronously: the same paths, dtypes, shapes and values. */
const sameTrees = (a: Tree, b: Tree): Promise<boolean> => {
  const fa = flattenTree(a), fb = flattenTree(b);
  if (fa.length !== fb.length || fa.some(([p, t], i) => p !== fb[i][0] || t.dtype !== fb[i][1].dtype)) return Promise.resolve(false);
  return sameValues(fa.map(([, t]) => t), fb.map(([, t]) => t));
};

// ---------------------------------------------------------------------------
// Shape
// ---------------------------------------------------------------------------

/**
 * Shape law (stax's `_CheckShapeAgreement`): `apply` returns
 * `[batch, ...outShape]` as computed by `init`, in eval and training mode.
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * import { checkShape } from 'tsnn/laws';
 *
 * await checkShape({ layer: resBlock(8, 16, 2), inShape: [7, 7, 8], batch: 2, seed: 0 }); // rejects with a LawError if broken
 * ```
 */
export const checkShape = async (c: LayerCase): Promise<void> =>
  await withInit(c, (params, state, x, outShape) => {
    const expected = (isMulti(outShape) ? outShape : [outShape as Shape]).map((s) => [c.batch, ...s]);
    for (const [mode, ctx] of ctxs(c)) {
      const r = forward(c.layer, params, state, x, ctx);
      const got = flowShapes(r.y);
      disposeNew([...flowTensors(r.y), ...leaves(r.state)], [...flowTensors(x), ...leaves(state), ...leaves(params)]);
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        fail(c, 'shape', `${mode} apply gives ${JSON.stringify(got)}, init says ${JSON.stringify(expected)}`);
      }
    }
  });

// ---------------------------------------------------------------------------
// Purity
// ---------------------------------------------------------------------------

/**
 * Purity law: `apply` neither mutates nor disposes its inputs; equal calls
 * give equal results; in eval mode the state comes back unchanged.
 *
 * @example
 * ```ts
 * import { batchNorm } from 'tsnn';
 * import { checkPurity } from 'tsnn/laws';
 *
 * await checkPurity({ layer: batchNorm(), inShape: [4, 4, 3], batch: 3, seed: 1 }); // rejects with a LawError if broken
 * ```
 */
export const checkPurity = async (c: LayerCase): Promise<void> =>
  await withInit(c, async (params, state, x) => {
    const inputs = [...flowTensors(x), ...leaves(params), ...leaves(state)];
    const before = await read(inputs);
    for (const [mode, ctx] of ctxs(c)) {
      const r1 = forward(c.layer, params, state, x, ctx);
      const out1 = [...flowTensors(r1.y), ...leaves(r1.state)];
      const disposed = inputs.findIndex((t) => t.isDisposed);
      if (disposed >= 0) {
        disposeNew(out1, inputs);
        fail(c, 'purity', `${mode} apply disposed input tensor #${disposed}`);
      }
      const r2 = forward(c.layer, params, state, x, ctx);
      const out2 = [...flowTensors(r2.y), ...leaves(r2.state)];
      try {
        const [now, same] = await Promise.all([read(inputs), sameValues(out1, out2)]);
        const changed = now.findIndex((v, i) => !sameArray(v, before[i]));
        if (changed >= 0) fail(c, 'purity', `${mode} apply changed input tensor #${changed}`);
        if (!same) fail(c, 'purity', `two ${mode} calls with equal arguments gave different results`);
        if (!ctx.training && !(await sameTrees(r1.state, state))) fail(c, 'purity', 'eval apply changed the state');
      } finally {
        disposeNew([...out1, ...out2], inputs);
      }
    }
  });

// ---------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------

/**
 * Determinism law: the same key gives equal params and state; a different
 * key gives different params, when the layer draws any at random.
 *
 * @example
 * ```ts
 * import { conv2d } from 'tsnn';
 * import { checkDeterminism } from 'tsnn/laws';
 *
 * await checkDeterminism({ layer: conv2d({ nf: 4 }), inShape: [5, 5, 2], batch: 1, seed: 7 }); // rejects with a LawError if broken
 * ```
 */
export const checkDeterminism = async (c: LayerCase): Promise<void> => {
  const made: { params: Tree; state: Tree }[] = [];
  const init = (seed: number) => {
    made.push(c.layer.init(prngKey(seed), c.inShape));
    return made[made.length - 1];
  };
  try {
    const a = init(c.seed), b = init(c.seed), d = init(c.seed + 1);
    const [sameParams, sameState, values, sameAcrossKeys] = await Promise.all([
      sameTrees(a.params, b.params),
      sameTrees(a.state, b.state),
      read(leaves(a.params)),
      sameTrees(a.params, d.params),
    ]);
    if (!sameParams || !sameState) fail(c, 'determinism', 'the same key gave different params');
    const random = values.some((v) => v.length > 1 && v.some((x) => x !== v[0]));
    if (random && sameAcrossKeys) fail(c, 'determinism', 'different keys gave equal params');
  } finally {
    made.forEach((r) => (disposeTree(r.params), disposeTree(r.state)));
  }
};

// ---------------------------------------------------------------------------
// Gradient
// ---------------------------------------------------------------------------

/** Tolerances of the gradient law. */
export interface GradientOptions {
  /**
   * Finite-difference step. Where the central difference at `h` disagrees
   * with autodiff, steps h/4, h/16, h/64 and h/256 are tried too (kinks near
   * x), and the coordinate passes if any of them agrees. Default 1e-3.
   */
  readonly h?: number;
  /** Relative tolerance. Default 5e-2. */
  readonly rtol?: number;
  /** Absolute tolerance, times the largest gradient seen. Default 2e-2. */
  readonly atol?: number;
  /** Coordinates checked per leaf. Default 3. */
  readonly coords?: number;
  /** Mode to differentiate in. Default training. */
  readonly training?: boolean;
  /**
   * Std of the noise added to the params before checking, so that the check
   * runs at a generic point rather than at a degenerate init (a zero BatchNorm
   * weight puts every ReLU at its kink). Default 0.3.
   */
  readonly jitter?: number;
}

/**
 * Gradient law: `tf.grads` agrees with central finite differences, for
 * every param leaf and the input, at a few random coordinates. The scalar
 * differentiated is `sum(y · r)` for a fixed random `r`. Coordinates at
 * which the function is not smooth (a ReLU kink within `h`) are skipped,
 * detected by comparing the one-sided slopes; where kinks on both sides
 * hide from that, smaller steps are tried before the law fails.
 *
 * @example
 * ```ts
 * import { dense } from 'tsnn';
 * import { checkGradient } from 'tsnn/laws';
 *
 * await checkGradient({ layer: dense({ nf: 3 }), inShape: [4], batch: 2, seed: 0 }); // rejects with a LawError if broken
 * ```
 */
export const checkGradient = async (c: LayerCase, opts: GradientOptions = {}): Promise<void> => {
  const h = opts.h ?? 1e-3, rtol = opts.rtol ?? 5e-2, atol = opts.atol ?? 2e-2, coords = opts.coords ?? 3;
  const ctx: Ctx = { training: opts.training ?? true, key: foldIn(prngKey(c.seed), 3) };
  const jitter = opts.jitter ?? 0.3;
  await withInit(c, async (initParams, state, x) => {
    const params = tf.tidy(() =>
      mapTree(initParams, (t, path) => tf.add(t, tf.tensor(normal(foldIn(prngKey(c.seed), hashPath(path)), t.size, jitter), t.shape, 'float32')))
    );
    const xs = flowTensors(x);
    // Differentiate with respect to the params and the inputs together.
    const all = { params, inputs: Object.fromEntries(xs.map((t, i) => [String(i), t])) } as Tree;
    const toFlow = (t: Tree): Flow => {
      const ins = (t as { inputs: Record<string, tf.Tensor> }).inputs;
      return Array.isArray(x) ? xs.map((_, i) => ins[String(i)]) : ins['0'];
    };
    let proj: tf.Tensor[] = []; // the fixed random `r` of sum(y · r), one per output
    const objective = (t: Tree): tf.Scalar => {
      const y = flowTensors(c.layer.apply((t as { params: Tree }).params, state, toFlow(t), ctx).y);
      return y.reduce((acc: tf.Scalar, yi, i) => tf.add(acc, tf.sum(tf.mul(yi, proj[i]))) as tf.Scalar, tf.scalar(0));
    };
    const evalAt = async (t: Tree): Promise<number> => (await scalars(() => [objective(t)]))[0];
    try {
      proj = tf.tidy(() => {
        const y = c.layer.apply(params, state, x, ctx).y;
        return flowTensors(y).map((t, i) => tf.tensor(normal(foldIn(prngKey(c.seed), 100 + i), t.size), t.shape, 'float32'));
      });
      const { value, grads } = valueAndGrad((t: Tree) => ({ loss: objective(t) }))(all);
      value.dispose();
      try {
        const gradPairs = flattenTree(grads);
        const pairs = flattenTree(all);
        const scale = Math.max(1, ...(await scalars(() => gradPairs.map(([, g]) => tf.max(tf.abs(g))))));
        const [gs, bases] = await Promise.all([read(gradPairs.map(([, g]) => g)), read(pairs.map(([, l]) => l))]);
        let checked = 0, skipped = 0;
        for (const [li, [path, leaf]] of pairs.entries()) {
          const g = gs[li], base = bases[li];
          for (let k = 0; k < Math.min(coords, leaf.size); k++) {
            const idx = randomBits(foldIn(prngKey(c.seed + li), k), 1)[0] % leaf.size;
            const at = async (delta: number): Promise<number> => {
              const moved = Float32Array.from(base);
              moved[idx] += delta;
              const t = tf.tensor(moved, leaf.shape, 'float32');
              const tree = unflattenTree(pairs.map(([p, l]) => [p, p === path ? t : l] as const)) as Tree;
              try {
                return await evalAt(tree);
              } finally {
                t.dispose();
              }
            };
            const f0 = await at(0);
            // The central difference with step `step`, and the one-sided slopes.
            const differences = async (step: number) => {
              // Actual steps taken, after float32 rounding of the moved value.
              const up = Math.fround(base[idx] + step) - base[idx], down = base[idx] - Math.fround(base[idx] - step);
              const [fUp, fDown] = await awaitAll([at(step), at(-step)]);
              return { d1: (fUp - fDown) / (up + down), forward: (fUp - f0) / up, backward: (f0 - fDown) / down };
            };
            const tolFor = (d1: number) => atol * scale + rtol * Math.max(Math.abs(g[idx]), Math.abs(d1));
            // A kink (ReLU at 0, a max switching) within the step makes the
            // one-sided slopes disagree. Kinks at distance d hide from steps
            // below d, so shrink the step (h/4 .. h/256) until the slopes agree:
            // two inputs of a max pool 4e-4 apart are smooth at h/4. Only a
            // coordinate that is a kink at every step is skipped.
            const steps = [h, h / 4, h / 16, h / 64, h / 256];
            const tried: Awaited<ReturnType<typeof differences>>[] = [];
            // A slope at step s carries about |f|·2^-24/s of float32 rounding per ulp of error in f (16 allowed): a
            // step where that exceeds the tolerance cannot tell a kink from noise, so it cannot show smoothness.
            const resolves = (step: number, d1: number) => (16 * Math.abs(f0) * 2 ** -24) / step <= tolFor(d1);
            const isSmooth = (d: Awaited<ReturnType<typeof differences>>, i: number) =>
              resolves(steps[i], d.d1) && Math.abs(d.forward - d.backward) <= 2 * tolFor(d.d1);
            while (tried.length < steps.length && (tried.length === 0 || !isSmooth(tried[tried.length - 1], tried.length - 1))) {
              tried.push(await differences(steps[tried.length]));
            }
            const smoothAt = tried.findIndex(isSmooth);
            if (smoothAt < 0) {
              skipped++;
              continue;
            }
            checked++;
            // Kinks on both sides can hide from the slope test; a true derivative
            // is approached as the step shrinks, so accept if the central
            // difference at this step or any smaller one agrees. The objective is
            // evaluated in float32, so the rounding error of a central difference
            // grows as the step shrinks, roughly |f| * 2^-24 / step: about
            // 6e-5 * |f| at the default h = 1e-3 and 1.5e-2 * |f| at h/256. The
            // smallest steps can only rescue coordinates where that stays below
            // the tolerance; they never make the law stricter. Seen: a BatchNorm
            // weight near zero put many ReLU kinks within h/16 of the point; a
            // smaller step matched autodiff.
            const first = tried[smoothAt];
            if (Math.abs(g[idx] - first.d1) <= tolFor(first.d1)) continue;
            const smaller = await awaitAll(steps.slice(smoothAt + 1).map(differences));
            if (smaller.some((d) => Math.abs(g[idx] - d.d1) <= tolFor(d.d1))) continue;
            fail(
              c,
              'gradient',
              `d/d ${path}[${idx}]: autodiff ${g[idx].toExponential(4)}, finite difference ${first.d1.toExponential(4)} at step ${
                steps[smoothAt].toExponential(1)
              } (tolerance ${tolFor(first.d1).toExponential(2)}; smaller steps down to h/256 gave ${
                smaller.map((d) => d.d1.toExponential(4)).join(', ') || 'none left'
              })`,
            );
          }
        }
        if (skipped > checked) fail(c, 'gradient', `too few smooth coordinates: ${checked} checked, ${skipped} skipped as non-smooth`);
      } finally {
        disposeTree(grads);
      }
    } finally {
      proj.forEach((t) => t.dispose());
      disposeTree(params);
    }
  });
};

/** A stable 32-bit hash of a path, to give each leaf its own noise. */
const hashPath = (path: string): number => {
  let h = 2166136261;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 16777619) >>> 0;
  return h;
};

// ---------------------------------------------------------------------------
// No leaks
// ---------------------------------------------------------------------------

/**
 * No-leak law: a layer's `apply` leaves only its output and its new state,
 * whether the caller is inside `tf.tidy` or not, and under a gradient tape
 * as well: `apply` called bare, through `forward`, and inside `valueAndGrad`,
 * with what each returns disposed, leaves `tf.memory().numTensors` where it was.
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * await checkNoLeak({ layer: resBlock(4, 4), inShape: [6, 6, 4], batch: 2, seed: 3 });
 * ```
 */
export const checkNoLeak = async (c: LayerCase): Promise<void> =>
  await withInit(c, (params, state, x) => {
    // Synchronous on purpose: no await falls between two tensor counts, so nothing else runs in between.
    const inputs = [...flowTensors(x), ...leaves(params), ...leaves(state)];
    const before = tf.memory().numTensors;
    const check = (how: string) => {
      const after = tf.memory().numTensors;
      if (after !== before) fail(c, 'no-leak', `${how} left ${after - before} tensors behind`);
    };
    for (const [mode, ctx] of ctxs(c)) {
      const bare = c.layer.apply(params, state, x, ctx);
      disposeNew([...flowTensors(bare.y), ...leaves(bare.state)], inputs);
      check(`${mode} apply outside tf.tidy`);
      const r = forward(c.layer, params, state, x, ctx);
      disposeNew([...flowTensors(r.y), ...leaves(r.state)], inputs);
      check(`${mode} forward`);
      const vg = valueAndGrad((p: Tree) => {
        const out = c.layer.apply(p, state, x, ctx);
        const loss = flowTensors(out.y).reduce((acc: tf.Scalar, t) => tf.add(acc, tf.sum(t)) as tf.Scalar, tf.scalar(0));
        return { loss, aux: out.state };
      })(params);
      disposeNew([vg.value, ...leaves(vg.grads), ...(vg.aux ? leaves(vg.aux) : [])], inputs);
      check(`${mode} apply under a gradient tape`);
    }
  });

// ---------------------------------------------------------------------------
// NaN propagation
// ---------------------------------------------------------------------------

/** A NaN with the sign bit set: what x86 makes of 0·∞ or ∞ − ∞, and what some kernels mistake for a negative number. */
const NEGATIVE_NAN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0];
const NAN_PROBE = 1e3;

/**
 * NaN law: a NaN in never becomes a finite number out. One input value is
 * set to NaN (with the sign bit clear, then set); every output value, and
 * every value of the new state, that comes out finite must be one the NaN
 * did not reach: the same when that input is `+1e3` or `-1e3` instead.
 * (A ReLU that maps NaN to 0, or a max pool that skips it, fails.)
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * await checkNanPropagation({ layer: resBlock(4, 8, 2), inShape: [6, 6, 4], batch: 2, seed: 1 });
 * ```
 */
export const checkNanPropagation = async (c: LayerCase): Promise<void> =>
  await withInit(c, async (params, state, x) => {
    const first = flowTensors(x)[0];
    const at = randomBits(foldIn(prngKey(c.seed), 3), 1)[0] % first.size;
    const [values] = await read([first]);
    for (const [mode, ctx] of ctxs(c)) {
      const run = async (v: number): Promise<Values[]> => {
        const poked = Float32Array.from(values);
        poked[at] = v;
        const x0 = tf.tensor(poked, first.shape, 'float32');
        const xs = Array.isArray(x) ? [x0, ...(x as tf.Tensor[]).slice(1)] : x0;
        try {
          const r = forward(c.layer, params, state, xs, ctx);
          const outs = [...flowTensors(r.y), ...leaves(r.state)];
          try {
            return await read(outs);
          } finally {
            disposeNew(outs, [...flowTensors(xs), ...leaves(state), ...leaves(params)]);
          }
        } finally {
          x0.dispose();
        }
      };
      const nans = [['NaN', NaN], ['NaN with the sign bit set', NEGATIVE_NAN]] as const;
      const [high, low, ...gots] = await awaitAll([run(NAN_PROBE), run(-NAN_PROBE), ...nans.map(([, nan]) => run(nan))]);
      nans.forEach(([name], n) => {
        gots[n].forEach((out, k) => {
          for (let j = 0; j < out.length; j++) {
            if (!Number.isFinite(out[j]) || (high[k][j] === low[k][j] && out[j] === high[k][j])) continue;
            fail(
              c,
              'NaN',
              `${mode}: input value ${at} set to ${name} gives the finite ${out[j]} at output ${k}[${j}], ` +
                `which is ${high[k][j]} and ${low[k][j]} with that input at ±${NAN_PROBE} (outputs after the first are the new state)`,
            );
          }
        });
      });
    }
  });

/**
 * Every general law, in order.
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * import { installEngine } from 'tsnn/backend';
 * import { checkAll } from 'tsnn/laws';
 *
 * installEngine(); // the NaN law needs the engine's NaN-propagating kernels
 * await checkAll({ layer: resBlock(4, 8, 2), inShape: [7, 7, 4], batch: 2, seed: 0 }); // rejects with a LawError if broken
 * ```
 */
export const checkAll = async (c: LayerCase, gradient: GradientOptions = {}): Promise<void> => {
  await checkShape(c);
  await checkPurity(c);
  await checkDeterminism(c);
  await checkGradient(c, gradient);
  await checkNoLeak(c);
  await checkNanPropagation(c);
};
