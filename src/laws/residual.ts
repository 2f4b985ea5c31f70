/**
 * Laws specific to fastai's ResBlock.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../apply.ts';
import { resBlock } from '../blocks.ts';
import { serial } from '../combinators.ts';
import { withLabel } from '../layer.ts';
import { convLayer } from '../blocks.ts';
import { avgPool } from '../layers/pooling.ts';
import { identity } from '../layers/shape_ops.ts';
import { foldIn, normal, prngKey } from '../random.ts';
import { disposeTree, type Tree } from '../tree.ts';
import { LawError } from './checks.ts';

/** One ResBlock instance: channels, stride, input size, batch and seed. */
export interface ResBlockCase {
  readonly ni: number;
  readonly nf: number;
  readonly stride: number;
  readonly h: number;
  readonly w: number;
  readonly batch: number;
  readonly seed: number;
}

const describe = (c: ResBlockCase) => `resBlock(${c.ni}, ${c.nf}, ${c.stride}) on [${c.batch}, ${c.h}, ${c.w}, ${c.ni}]`;

const run = <T>(c: ResBlockCase, f: (params: Tree, state: Tree, x: tf.Tensor) => T): T => {
  const block = resBlock(c.ni, c.nf, c.stride);
  const { params, state } = block.init(prngKey(c.seed), [c.h, c.w, c.ni]);
  const shape = [c.batch, c.h, c.w, c.ni];
  const x = tf.tensor(normal(foldIn(prngKey(c.seed), 1), shape.reduce((a, b) => a * b)), shape, 'float32');
  try {
    return f(params, state, x);
  } finally {
    disposeTree(params);
    disposeTree(state);
    x.dispose();
  }
};

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

/**
 * `resBlock(ni, nf, s)` maps `[b, h, w, ni]` to `[b, ceil(h/s), ceil(w/s), nf]`,
 * both in `init` and in `apply`.
 *
 * @example
 * checkResBlockShape({ ni: 3, nf: 5, stride: 2, h: 7, w: 6, batch: 2, seed: 0 });
 */
export const checkResBlockShape = (c: ResBlockCase): void => {
  const expected = [Math.ceil(c.h / c.stride), Math.ceil(c.w / c.stride), c.nf];
  const block = resBlock(c.ni, c.nf, c.stride);
  const { params, state, outShape } = block.init(prngKey(c.seed), [c.h, c.w, c.ni]);
  disposeTree(params);
  disposeTree(state);
  if (JSON.stringify(outShape) !== JSON.stringify(expected)) {
    throw new LawError(`${describe(c)}: init gives ${JSON.stringify(outShape)}, expected ${JSON.stringify(expected)}`);
  }
  run(c, (p, s, x) => {
    const { y } = forward(block, p, s, x, { training: false });
    const got = (y as tf.Tensor).shape;
    (y as tf.Tensor).dispose();
    if (JSON.stringify(got) !== JSON.stringify([c.batch, ...expected])) {
      throw new LawError(`${describe(c)}: apply gives ${JSON.stringify(got)}, expected ${JSON.stringify([c.batch, ...expected])}`);
    }
  });
};

/**
 * At initialisation (BatchZero on the last ConvLayer) the block equals
 * `relu(idconv(pool(x)))`, in eval and training mode. The shortcut is rebuilt
 * here from its definition and applied with the block's own shortcut params.
 *
 * @example
 * checkResBlockAtInit({ ni: 4, nf: 8, stride: 2, h: 5, w: 5, batch: 2, seed: 1 });
 */
export const checkResBlockAtInit = (c: ResBlockCase, tol = 1e-6): void =>
  run(c, (params, state, x) => {
    const block = resBlock(c.ni, c.nf, c.stride);
    const shortcut = serial(
      withLabel('pool', c.stride === 1 ? identity : avgPool({ size: 2, ceilMode: true })),
      withLabel('idconv', c.ni === c.nf ? identity : convLayer(c.ni, c.nf, { ks: 1, act: 'none' })),
    );
    for (const training of [false, true]) {
      const diff = tf.tidy(() => {
        const y = block.apply(params as never, state as never, x, { training }).y as tf.Tensor;
        const p = (params as Record<string, Tree>)['1'] as Record<string, Tree>, s = (state as Record<string, Tree>)['1'] as Record<string, Tree>;
        const ref = tf.relu(shortcut.apply(p as never, s as never, x, { training }).y as tf.Tensor);
        return maxAbsDiff(y, ref);
      });
      if (!(diff <= tol)) {
        throw new LawError(`${describe(c)} at init (${training ? 'training' : 'eval'}): differs from relu(idconv(pool(x))) by ${diff}`);
      }
    }
  });

/**
 * With `ni === nf` and stride 1, the block at initialisation is `relu(x)`.
 *
 * @example
 * checkResBlockIdentity({ ni: 4, nf: 4, stride: 1, h: 5, w: 5, batch: 2, seed: 2 });
 */
export const checkResBlockIdentity = (c: ResBlockCase): void => {
  if (c.ni !== c.nf || c.stride !== 1) throw new RangeError(`checkResBlockIdentity needs ni === nf and stride 1, got ${describe(c)}`);
  run(c, (params, state, x) => {
    for (const training of [false, true]) {
      const diff = tf.tidy(() => maxAbsDiff(resBlock(c.ni, c.nf, 1).apply(params as never, state as never, x, { training }).y as tf.Tensor, tf.relu(x)));
      if (diff !== 0) throw new LawError(`${describe(c)} at init (${training ? 'training' : 'eval'}): differs from relu(x) by ${diff}`);
    }
  });
};
