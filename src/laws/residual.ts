/**
 * fastai's residual invariants, as laws over any block factory
 * `(ni, nf, stride) => Layer`: `resBlock`, or a block of your own.
 *
 * A block is `relu(residual(x) + shortcut(x))`, with the residual branch
 * ending in a BatchNorm initialised to zero (BatchZero). The laws:
 *
 * - shape: `[b, h, w, ni]` maps to `[b, ceil(h/s), ceil(w/s), nf]`, in `init` and `apply`;
 * - at init: the block equals `relu(shortcut(x) + b)`, b a per-channel
 *   constant of at most 0.01 (the residual branch's last BatchNorm bias);
 * - identity: with `ni === nf` and stride 1, it equals `relu(x + b)` at init;
 * - shortcut: the shortcut is used (perturbing its params changes the output).
 *
 * Like the general laws in `checks.ts`, each check is async (it reads values
 * with `await t.data()`, the only read WebGPU offers): it resolves when the
 * law holds and rejects with a `LawError` when it fails.
 *
 * The laws find the shortcut through a {@link ResidualBlock}: a factory that
 * rebuilds the shortcut as a layer, and the dotted path of its params and
 * state inside the block's. The defaults describe fastai's block,
 * `relu(add(convs, serial(pool, idconv)))`: the shortcut is
 * {@link fastaiShortcut}, stored under `'1'` (the add's second child). A bare
 * factory means those defaults.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { convLayer, resBlock } from '../blocks.ts';
import { serial } from '../combinators.ts';
import { type AnyLayer, type Ctx, type Flow, type FlowShape, withLabel } from '../layer.ts';
import { avgPool } from '../layers/pooling.ts';
import { identity } from '../layers/shape_ops.ts';
import { foldIn, normal, prngKey } from '../random.ts';
import { disposeTree, flattenTree, mapTree, type Tree } from '../tree.ts';
import { LawError } from './checks.ts';

// ---------------------------------------------------------------------------
// Blocks and cases
// ---------------------------------------------------------------------------

/**
 * A block factory, as `resBlock`: input channels, output channels, stride.
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * const f: BlockFactory = resBlock;
 * console.log(f(4, 8, 2).name); // 'resBlock'
 * ```
 */
export type BlockFactory = (ni: number, nf: number, stride: number) => AnyLayer;

/** A residual block family to check, and where its shortcut lives. */
export interface ResidualBlock {
  /** The block under test. */
  readonly block: BlockFactory;
  /**
   * The block's shortcut, rebuilt as a layer whose params have the structure
   * of the block's params at `shortcutPath`. Default {@link fastaiShortcut}.
   */
  readonly shortcut?: BlockFactory;
  /**
   * Dotted path of the shortcut's params and state inside the block's, e.g.
   * `'1'` for the second child of `add` in `relu(add(convs, serial(pool, idconv)))`,
   * or `'skip'` for a child labelled with `withLabel('skip', ...)`. Default `'1'`.
   */
  readonly shortcutPath?: string;
  /** Shown in failure messages. Default the factory's function name. */
  readonly name?: string;
}

/** What the residual laws accept: a factory (fastai's shortcut layout assumed) or a {@link ResidualBlock}. */
export type ResidualSubject = BlockFactory | ResidualBlock;

/** One instance of a block: channels, stride, input size, batch and seed. */
export interface ResBlockCase {
  /** Input channels. */
  readonly ni: number;
  /** Output channels. */
  readonly nf: number;
  /** The block's stride, 1 or 2. */
  readonly stride: number;
  /** Input height. */
  readonly h: number;
  /** Input width. */
  readonly w: number;
  /** The batch size. */
  readonly batch: number;
  /** Seeds the block's init and the random input. */
  readonly seed: number;
}

/**
 * fastai's shortcut: `serial(pool, idconv)`, with `pool` an average pool
 * (2×2, ceil mode) when strided and `idconv` a 1×1 ConvLayer without
 * activation when the channels change; each is the identity otherwise.
 *
 * @example
 * ```ts
 * import { prngKey } from 'tsnn';
 * console.log(fastaiShortcut(4, 8, 2).init(prngKey(0), [5, 5, 4]).outShape); // [3, 3, 8]
 * ```
 */
export const fastaiShortcut: BlockFactory = (ni: number, nf: number, stride: number): AnyLayer =>
  serial(
    withLabel('pool', stride === 1 ? identity : avgPool({ size: 2, ceilMode: true })),
    withLabel('idconv', ni === nf ? identity : convLayer(ni, nf, { ks: 1, act: 'none' })),
  );

interface Resolved {
  readonly block: BlockFactory;
  readonly shortcut: BlockFactory;
  readonly path: string;
  readonly name: string;
}

const resolve = (s: ResidualSubject): Resolved => {
  const spec: ResidualBlock = typeof s === 'function' ? { block: s } : s;
  return {
    block: spec.block,
    shortcut: spec.shortcut ?? fastaiShortcut,
    path: spec.shortcutPath ?? '1',
    name: spec.name ?? (spec.block.name || 'block'),
  };
};

const describeCase = (r: Resolved, c: ResBlockCase) => `${r.name}(${c.ni}, ${c.nf}, ${c.stride}) on [${c.batch}, ${c.h}, ${c.w}, ${c.ni}]`;

const fail = (r: Resolved, c: ResBlockCase, law: string, detail: string): never => {
  throw new LawError(`residual ${law} law fails for ${describeCase(r, c)}: ${detail}`);
};

const ctxs = (c: ResBlockCase): [string, Ctx][] => [
  ['eval', { training: false }],
  ['training', { training: true, key: foldIn(prngKey(c.seed), 2) }],
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const isRecord = (t: Tree | undefined): t is { readonly [k: string]: Tree } => t !== undefined && !(t instanceof tf.Tensor);

/** The subtree at a dotted path (`''` is the root), or undefined. */
const at = (tree: Tree, path: string): Tree | undefined =>
  path === '' ? tree : path.split('.').reduce<Tree | undefined>((t, k) => (isRecord(t) ? t[k] : undefined), tree);

/** `tree` with the subtree at `path` replaced (records copied along the path). */
const replaceAt = (tree: Tree, path: string, sub: Tree): Tree => {
  if (path === '') return sub;
  const [k, ...rest] = path.split('.');
  const rec = isRecord(tree) ? tree : {};
  return { ...rec, [k]: replaceAt(rec[k] ?? {}, rest.join('.'), sub) };
};

const layout = (t: Tree | undefined): string[] => (t === undefined ? [] : flattenTree(t).map(([p, x]) => `${p} [${x.shape.join(', ')}]`));

const single = (r: Resolved, c: ResBlockCase, law: string, y: Flow): tf.Tensor =>
  y instanceof tf.Tensor ? y : fail(r, c, law, `apply gives ${y.length} outputs, expected one tensor`);

/** The values of `t`, read with `await t.data()` (WebGPU reads no other way); `t` is disposed. */
const take = async (t: tf.Tensor): Promise<number[]> => {
  try {
    return Array.from(await t.data() as Float32Array);
  } finally {
    t.dispose();
  }
};

const sameShape = (a: tf.Tensor, b: tf.Tensor): boolean => a.shape.join() === b.shape.join();

/**
 * The largest offset a zero-initialised residual branch may start with: its
 * last BatchNorm's bias, 0 in PyTorch and 1e-3 in fastai (`_get_norm`).
 */
const MAX_START_OFFSET = 1e-2;

/**
 * How far `y` is from `relu(s + b)` for the best per-channel constant `b`
 * (channels last), relative to max(1, max |s|), and the largest |b|. Where
 * `y > 0`, `y = s + b` exactly, so `b` is read there (the median, against
 * rounding); a channel with no such value takes b = 0.
 */
const offsetMisfit = async (y: tf.Tensor, s: tf.Tensor): Promise<{ misfit: number; offset: number }> => {
  const [yv, sv] = await Promise.all([y.data(), s.data()]);
  const channels = y.shape[y.shape.length - 1] ?? 1;
  const offsets = Array.from({ length: channels }, (_, c) => {
    const d: number[] = [];
    for (let i = c; i < yv.length; i += channels) if (yv[i] > 0) d.push(yv[i] - sv[i]);
    return d.length ? d.sort((a, b) => a - b)[d.length >> 1] : 0;
  });
  let misfit = 0, scale = 1;
  for (let i = 0; i < yv.length; i++) {
    misfit = Math.max(misfit, Math.abs(yv[i] - Math.max(0, sv[i] + offsets[i % channels])));
    scale = Math.max(scale, Math.abs(sv[i]));
  }
  return { misfit: misfit / scale, offset: Math.max(...offsets.map(Math.abs)) };
};

/** Check `y` against `relu(s + b)` (see {@link offsetMisfit}), failing the law with `what` naming `s`. */
const checkOffset = async (r: Resolved, c: ResBlockCase, law: string, mode: string, y: tf.Tensor, s: tf.Tensor, what: string, tol: number) => {
  const { misfit, offset } = await offsetMisfit(y, s);
  if (!(misfit <= tol)) {
    fail(
      r,
      c,
      law,
      `${mode} output differs from relu(${what} + b) by ${
        misfit.toExponential(3)
      } (relative; tolerance ${tol}) for any per-channel constant b; is the residual branch's last BatchNorm zero-initialised?`,
    );
  }
  if (!(offset <= MAX_START_OFFSET)) {
    fail(
      r,
      c,
      law,
      `${mode} output is relu(${what} + b) with |b| up to ${
        offset.toExponential(3)
      }; expected at most ${MAX_START_OFFSET} (the residual branch's last BatchNorm bias)`,
    );
  }
};

/**
 * Init the block for the case and run `f`; once `f` has settled, disposes
 * everything made, and turns an error thrown by the block into a `LawError`
 * naming the case.
 */
const withBlock = async <T>(
  r: Resolved,
  c: ResBlockCase,
  law: string,
  f: (layer: AnyLayer, params: Tree, state: Tree, x: tf.Tensor, outShape: FlowShape) => T | Promise<T>,
): Promise<T> => {
  const made: Tree[] = [];
  try {
    const layer = r.block(c.ni, c.nf, c.stride);
    const { params, state, outShape } = layer.init(prngKey(c.seed), [c.h, c.w, c.ni]);
    made.push(params, state);
    const shape = [c.batch, c.h, c.w, c.ni];
    const x = tf.tensor(normal(foldIn(prngKey(c.seed), 1), shape.reduce((a, b) => a * b)), shape, 'float32');
    made.push(x);
    // `return await`: the catch and the finally must see `f` settle.
    return await f(layer, params, state, x, outShape);
  } catch (e) {
    if (e instanceof LawError) throw e;
    return fail(r, c, law, `the block threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  } finally {
    made.forEach(disposeTree);
  }
};

/**
 * The block's shortcut params and state, checked against the shortcut
 * factory's own: the same leaves with the same shapes.
 */
const shortcutOf = (r: Resolved, c: ResBlockCase, law: string, params: Tree, state: Tree) => {
  const own = r.shortcut(c.ni, c.nf, c.stride).init(prngKey(c.seed), [c.h, c.w, c.ni]);
  const want = { params: layout(own.params), state: layout(own.state) };
  disposeTree(own.params);
  disposeTree(own.state);
  const p = at(params, r.path), s = at(state, r.path);
  for (const [what, got, expected] of [['params', layout(p), want.params], ['state', layout(s), want.state]] as const) {
    if (got.join() !== expected.join()) {
      fail(
        r,
        c,
        law,
        `the block's ${what} at '${r.path}' are [${got.join(', ')}] but its shortcut's are [${expected.join(', ')}]; ` +
          'pass the shortcut factory and shortcutPath that match the block',
      );
    }
  }
  return { params: p ?? {}, state: s ?? {} };
};

// ---------------------------------------------------------------------------
// Laws
// ---------------------------------------------------------------------------

/**
 * Shape law: the block maps `[b, h, w, ni]` to `[b, ceil(h/s), ceil(w/s), nf]`,
 * in `init` and in `apply` (eval and training mode).
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * await checkResidualShape(resBlock, { ni: 3, nf: 5, stride: 2, h: 7, w: 6, batch: 2, seed: 0 });
 * ```
 */
export const checkResidualShape = async (subject: ResidualSubject, c: ResBlockCase): Promise<void> => {
  const r = resolve(subject);
  const expected = [Math.ceil(c.h / c.stride), Math.ceil(c.w / c.stride), c.nf];
  await withBlock(r, c, 'shape', (layer, params, state, x, outShape) => {
    if (JSON.stringify(outShape) !== JSON.stringify(expected)) {
      fail(r, c, 'shape', `init gives ${JSON.stringify(outShape)}, expected ${JSON.stringify(expected)}`);
    }
    for (const [mode, ctx] of ctxs(c)) {
      const got = tf.tidy(() => single(r, c, 'shape', layer.apply(params, state, x, ctx).y).shape);
      if (JSON.stringify(got) !== JSON.stringify([c.batch, ...expected])) {
        fail(r, c, 'shape', `${mode} apply gives ${JSON.stringify(got)}, expected ${JSON.stringify([c.batch, ...expected])}`);
      }
    }
  });
};

/**
 * At-init law: with BatchZero on the residual branch, that branch starts as
 * a per-channel constant `b` (its last BatchNorm's bias: 0 in PyTorch, 1e-3
 * in fastai), so the block at initialisation equals `relu(shortcut(x) + b)`,
 * in eval and training mode, with |b| ≤ 0.01. The shortcut is rebuilt with
 * the subject's `shortcut` factory and applied with the block's own params
 * and state at `shortcutPath`. `tol` is relative to `max(1, max |shortcut(x)|)`.
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * await checkResidualAtInit(resBlock, { ni: 4, nf: 8, stride: 2, h: 5, w: 5, batch: 2, seed: 1 });
 * // A block of your own, with its shortcut labelled 'skip':
 * // await checkResidualAtInit({ block: myBlock, shortcut: myShortcut, shortcutPath: 'skip' }, c);
 * ```
 */
export const checkResidualAtInit = async (subject: ResidualSubject, c: ResBlockCase, tol = 1e-6): Promise<void> => {
  const r = resolve(subject);
  await withBlock(r, c, 'at-init', async (layer, params, state, x) => {
    const sc = shortcutOf(r, c, 'at-init', params, state);
    const shortcut = r.shortcut(c.ni, c.nf, c.stride);
    for (const [mode, ctx] of ctxs(c)) {
      // In a tidy: a block that gives no single tensor fails there, leaving nothing behind.
      const [y, s] = tf.tidy(() => [
        single(r, c, 'at-init', layer.apply(params, state, x, ctx).y),
        single(r, c, 'at-init', shortcut.apply(sc.params, sc.state, x, ctx).y),
      ]);
      try {
        if (!sameShape(y, s)) fail(r, c, 'at-init', `${mode} apply gives [${y.shape.join(', ')}] but shortcut(x) gives [${s.shape.join(', ')}]`);
        await checkOffset(r, c, 'at-init', mode, y, s, 'shortcut(x)', tol);
      } finally {
        tf.dispose([y, s].filter((t) => t !== x)); // an identity shortcut gives x itself, which withBlock owns
      }
    }
  });
};

/**
 * Identity law: with `ni === nf` and stride 1, the block at initialisation
 * is `relu(x + b)` for a per-channel constant |b| ≤ 0.01 (see
 * {@link checkResidualAtInit}), in eval and training mode. Other cases are a `RangeError`.
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * await checkResidualIdentity(resBlock, { ni: 4, nf: 4, stride: 1, h: 5, w: 5, batch: 2, seed: 2 });
 * ```
 */
export const checkResidualIdentity = async (subject: ResidualSubject, c: ResBlockCase, tol = 1e-6): Promise<void> => {
  const r = resolve(subject);
  if (c.ni !== c.nf || c.stride !== 1) throw new RangeError(`the identity law needs ni === nf and stride 1, got ${describeCase(r, c)}`);
  await withBlock(r, c, 'identity', async (layer, params, state, x) => {
    for (const [mode, ctx] of ctxs(c)) {
      const y = tf.tidy(() => single(r, c, 'identity', layer.apply(params, state, x, ctx).y));
      try {
        if (!sameShape(y, x)) fail(r, c, 'identity', `${mode} apply gives [${y.shape.join(', ')}], expected the input's [${x.shape.join(', ')}]`);
        await checkOffset(r, c, 'identity', mode, y, x, 'x', tol);
      } finally {
        if (y !== x) y.dispose();
      }
    }
  });
};

/**
 * Shortcut law: the block uses its shortcut. Adding noise to every param of
 * the shortcut (found at `shortcutPath`) changes the output, in eval and
 * training mode, for the input `x` or for `-x` in one of four noise draws,
 * each added and subtracted (the final relu hides a change where every
 * pre-activation stays negative);
 * a block that ignores its shortcut fails. When the shortcut
 * has no params (`ni === nf`: identity or average pool), the law instead
 * asks that at initialisation, where the residual branch is zero (see the
 * at-init law), the output for `-x` differs from the output for `x`; a
 * block that ignores its shortcut and also lacks BatchZero escapes this form,
 * but fails the at-init law.
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * await checkResidualShortcut(resBlock, { ni: 3, nf: 6, stride: 2, h: 5, w: 4, batch: 2, seed: 3 });
 * ```
 */
export const checkResidualShortcut = async (subject: ResidualSubject, c: ResBlockCase): Promise<void> => {
  const r = resolve(subject);
  await withBlock(r, c, 'shortcut', async (layer, params, state, x) => {
    const sc = shortcutOf(r, c, 'shortcut', params, state);
    const hasParams = flattenTree(sc.params).length > 0;
    /** max |a - b| as a scalar tensor to read, or Infinity when the shapes differ. */
    const maxDiff = (a: Flow, b: Flow): tf.Tensor | number => {
      const u = single(r, c, 'shortcut', a), v = single(r, c, 'shortcut', b);
      return sameShape(u, v) ? tf.max(tf.abs(tf.sub(u, v))) : Infinity;
    };
    const noisy = (t: tf.Tensor, k: number, sign: number) => tf.add(t, tf.mul(sign, tf.tensor(normal(foldIn(prngKey(c.seed), k), t.size), t.shape, 'float32')));
    for (const [mode, ctx] of ctxs(c)) {
      // The final relu can hide a change where every pre-activation stays negative,
      // so the law tries the input and its negation, and with params, four noise
      // draws each added and subtracted: a draw that pushes a bias down is
      // followed by one that pushes it up. It fails only when none of them
      // changes the output. (Seen with three one-sided draws: a 1x1 shortcut with
      // a negative bias and one output channel hid in a soak of the suite.)
      // Each probe is a tidy giving the change to read; they are read one at a
      // time, and the first change found ends the search.
      const apply = (p: Tree, sign: number) => layer.apply(p, state, sign > 0 ? x : tf.neg(x), ctx).y;
      const probes: (() => tf.Tensor | number)[] = !hasParams
        ? [() => maxDiff(apply(params, 1), apply(params, -1))]
        : [1, -1].flatMap((xSign) =>
          [0, 1, 2, 3].flatMap((draw) =>
            [1, -1].map((sign) => () => {
              let leaf = 0;
              const moved = replaceAt(params, r.path, mapTree(sc.params, (t) => noisy(t, 1000 * draw + leaf++, sign)));
              return maxDiff(apply(params, xSign), apply(moved, xSign));
            })
          )
        );
      let changed = false;
      for (const probe of probes) {
        const d = tf.tidy(probe);
        if ((typeof d === 'number' ? d : (await take(d))[0]) > 0) {
          changed = true;
          break;
        }
      }
      if (!changed) {
        fail(
          r,
          c,
          'shortcut',
          hasParams
            ? `adding noise to the shortcut's params at '${r.path}' left the ${mode} output unchanged: the block ignores its shortcut`
            : `the shortcut has no params, and negating the input left the ${mode} output at init unchanged: the block ignores its shortcut`,
        );
      }
    }
  });
};

/**
 * Every residual law that applies to the case: shape, at-init, shortcut,
 * and identity when `ni === nf` and stride 1.
 *
 * @example
 * ```ts
 * import { resBlock } from 'tsnn';
 * await checkResidual(resBlock, { ni: 4, nf: 4, stride: 1, h: 3, w: 3, batch: 2, seed: 4 });
 * ```
 */
export const checkResidual = async (subject: ResidualSubject, c: ResBlockCase): Promise<void> => {
  await checkResidualShape(subject, c);
  await checkResidualAtInit(subject, c);
  await checkResidualShortcut(subject, c);
  if (c.ni === c.nf && c.stride === 1) await checkResidualIdentity(subject, c);
};

// ---------------------------------------------------------------------------
// The same laws for resBlock (kept from before the laws took any block)
// ---------------------------------------------------------------------------

/**
 * {@link checkResidualShape} for `resBlock`.
 *
 * @example
 * ```ts
 * await checkResBlockShape({ ni: 3, nf: 5, stride: 2, h: 7, w: 6, batch: 2, seed: 0 });
 * ```
 */
export const checkResBlockShape = (c: ResBlockCase): Promise<void> => checkResidualShape(resBlock, c);

/**
 * {@link checkResidualAtInit} for `resBlock`: at init it equals `relu(idconv(pool(x)) + b)`.
 *
 * @example
 * ```ts
 * await checkResBlockAtInit({ ni: 4, nf: 8, stride: 2, h: 5, w: 5, batch: 2, seed: 1 });
 * ```
 */
export const checkResBlockAtInit = (c: ResBlockCase, tol = 1e-6): Promise<void> => checkResidualAtInit(resBlock, c, tol);

/**
 * {@link checkResidualIdentity} for `resBlock`: with `ni === nf` and stride 1, at init it is `relu(x + b)`.
 *
 * @example
 * ```ts
 * await checkResBlockIdentity({ ni: 4, nf: 4, stride: 1, h: 5, w: 5, batch: 2, seed: 2 });
 * ```
 */
export const checkResBlockIdentity = (c: ResBlockCase): Promise<void> => checkResidualIdentity(resBlock, c);
