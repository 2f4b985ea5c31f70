/**
 * A DataLoader over in-memory arrays: key-driven shuffling, normalisation and
 * augmentation, batches out as tensors.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import {
  decodeArg,
  Finite,
  type NoFields,
  NonNegativeInt,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  Positive,
  PositiveInt,
  PrngKey,
  type SameType,
  showValue,
  strictRecord,
  type StrictRecordC,
  typesAgree,
} from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { Shape } from '../layer.ts';
import { foldIn, type Key, permutation, prngKey } from '../random.ts';
import { drawAugmentation, sourcePixel } from './augment.ts';

/** @ignore tfjs-core's tensor, aliased so deno doc --lint does not flag the npm type as private (see src/layer.ts). */
type Tensor = tf.Tensor;

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** One batch: inputs and integer labels. The consumer disposes both. */
export interface Batch {
  /** Inputs, float32, `[batch, ...shape]`. */
  readonly x: Tensor;
  /** Labels, int32, `[batch]`. */
  readonly y: Tensor;
}

/** A source of batches, one pass per epoch. */
export interface Loader {
  /** Per-example input shape. */
  readonly shape: Shape;
  /** Batches per epoch. */
  readonly length: number;
  /** Examples per epoch (after `dropLast`). */
  readonly size: number;
  /**
   * The number of classes the labels were checked against (every label is in
   * `0..nClasses-1`), when known: from the `nClasses` option or the dataset's
   * class names. A model's output width should equal it.
   */
  readonly nClasses?: number;
  /** The batches of one epoch, in that epoch's order. */
  batches(epoch: number): Iterable<Batch>;
}

/** Examples in memory: `x` holds `n · prod(shape)` values, NHWC, row-major. */
export interface ArrayDataset {
  /** The inputs, example after example (raw bytes or floats). */
  readonly x: Uint8Array | Float32Array;
  /** One integer label per example. */
  readonly y: Int32Array;
  /** Per-example input shape (`[28, 28, 1]`). */
  readonly shape: Shape;
  /** Class names, when known. */
  readonly classes?: readonly string[];
}

/** Per-channel normalisation statistics, as `dataLoader`, `predict` and `tta` take them. */
export const Normalize: StrictRecordC<{
  /** Per-channel means, subtracted after scaling. */
  mean: t.ReadonlyArrayC<typeof Finite>;
  /** Per-channel standard deviations, each positive. */
  std: t.ReadonlyArrayC<typeof Positive>;
}, NoFields> = strictRecord('{ mean: finite numbers, std: positive numbers }', {
  mean: t.readonlyArray(Finite, 'finite numbers'),
  std: t.readonlyArray(Positive, 'positive numbers'),
}, {});

const loaderRequired = {
  batchSize: PositiveInt,
};
const loaderOptional = {
  shuffle: t.boolean,
  dropLast: t.boolean,
  key: PrngKey,
  scale: Finite,
  normalize: Normalize,
  padCrop: NonNegativeInt,
  flip: t.boolean,
  limit: PositiveInt,
  nClasses: PositiveInt,
};
const LoaderOptionSet: OptionSetOf<typeof loaderRequired, typeof loaderOptional> = optionSet('dataLoader', loaderRequired, loaderOptional);

/** Options of {@link dataLoader}. */
export interface LoaderOptions {
  /** Examples per batch. */
  readonly batchSize: number;
  /** Shuffle each epoch, driven by `key`. Default true. */
  readonly shuffle?: boolean;
  /** Drop the last incomplete batch. Default false. */
  readonly dropLast?: boolean;
  /** Key for shuffling and augmentation. Default `prngKey(0)`. */
  readonly key?: Key;
  /** Multiply raw values first (1/255 for bytes). Default 1/255 for Uint8Array, else 1. */
  readonly scale?: number;
  /** Per-channel normalisation after scaling: `(x - mean) / std`, with each std positive. */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] };
  /** Random crop after zero padding by this many pixels (per example). Default 0 (off). */
  readonly padCrop?: number;
  /** Random horizontal flip with probability 1/2 (per example). Default false. */
  readonly flip?: boolean;
  /** Use only the first `limit` examples. */
  readonly limit?: number;
  /**
   * The number of classes: every label must be in `0..nClasses-1`. Default
   * the number of the dataset's class names, when it has them. Labels are
   * integers >= 0 in any case.
   */
  readonly nClasses?: number;
}
typesAgree<SameType<LoaderOptions, OptionsOf<typeof LoaderOptionSet>>>();

// ---------------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------------

/** The class count from the option and the dataset's names; when both are given they must agree. */
const classCount = (ds: ArrayDataset, option: number | undefined): number | undefined => {
  const named = ds.classes?.length;
  if (option !== undefined && named !== undefined && option !== named) {
    throw new ConfigError([`dataLoader.nClasses: expected ${named} (the dataset's ${named} class names), got ${option}`]);
  }
  return option ?? named;
};

/**
 * Every label an integer >= 0, and below `nClasses` when it is known, checked
 * once here: a loss would otherwise take an out-of-range label for a free
 * zero (tfjs one-hot encodes it as all zeros) on every epoch.
 */
const checkLabels = (y: ArrayLike<number>, nClasses: number | undefined, from: string): void => {
  const top = nClasses ?? Infinity;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (Number.isInteger(v) && v >= 0 && v < top) continue;
    const range = nClasses === undefined
      ? 'an integer >= 0'
      : `an integer in 0..${nClasses - 1} (${nClasses} class${nClasses === 1 ? '' : 'es'}, from ${from})`;
    throw new ConfigError([`dataLoader.ds.y.${i}: expected ${range}, got ${showValue(v)}`]);
  }
};

// ---------------------------------------------------------------------------
// Loader
// ---------------------------------------------------------------------------

/**
 * A loader over an {@link ArrayDataset}. The same key gives the same batches
 * in both runtimes; augmentation differs per epoch and per example.
 *
 * Options are checked first: an unknown or ill-typed one (at any depth, e.g.
 * `normalize.std.0`) is a ConfigError naming it and its value. So is a label
 * that is not an integer >= 0, or not below the class count (the `nClasses`
 * option, or the number of `ds.classes`), which the loader then exposes as
 * `nClasses`.
 *
 * @example
 * ```ts
 * import { dataLoader, prngKey } from 'tsnn';
 *
 * const ds = { x: new Uint8Array(8 * 4 * 4), y: new Int32Array(8), shape: [4, 4, 1] };
 * const train = dataLoader(ds, { batchSize: 4, key: prngKey(1), padCrop: 1, flip: true, nClasses: 3 });
 * console.log(train.length, train.size, train.nClasses); // 2 8 3
 * for (const { x, y } of train.batches(0)) {
 *   console.log(x.shape, y.shape); // [ 4, 4, 4, 1 ] [ 4 ]
 *   x.dispose();
 *   y.dispose();
 * }
 * try {
 *   dataLoader(ds, { batchSize: 4, scale: NaN });
 * } catch (e) {
 *   console.log((e as Error).message); // dataLoader.scale: expected finite number, got NaN
 * }
 * try {
 *   dataLoader({ ...ds, y: Int32Array.from([0, 0, 3, 0, 0, 0, 0, 0]) }, { batchSize: 4, nClasses: 3 });
 * } catch (e) {
 *   console.log((e as Error).message); // dataLoader.ds.y.2: expected an integer in 0..2 (3 classes, from the nClasses option), got 3
 * }
 * ```
 */
export const dataLoader = (ds: ArrayDataset, options: LoaderOptions): Loader => {
  const opts = LoaderOptionSet.decode(options);
  decodeArg('dataLoader.ds.shape', t.readonlyArray(PositiveInt, 'positive integers'), ds.shape);
  const per = ds.shape.reduce((a, b) => a * b, 1);
  const total = ds.y.length;
  if (ds.x.length !== total * per) {
    throw new ConfigError([`dataLoader: x has ${ds.x.length} values, expected ${total} examples × ${per} = ${total * per}`]);
  }
  const nClasses = classCount(ds, opts.nClasses);
  checkLabels(ds.y, nClasses, opts.nClasses === undefined ? 'ds.classes' : 'the nClasses option');
  const n = Math.min(total, opts.limit ?? total);
  const bs = opts.batchSize;
  const dropLast = opts.dropLast ?? false;
  const length = dropLast ? Math.floor(n / bs) : Math.ceil(n / bs);
  const key = opts.key ?? prngKey(0);
  const [h, w] = ds.shape.length === 3 ? ds.shape : [1, per];
  const { scale, mean, std, channels: c } = preprocessing('dataLoader', ds, opts);
  const pad = opts.padCrop ?? 0;
  const flip = opts.flip ?? false;
  if ((pad > 0 || flip) && ds.shape.length !== 3) {
    throw new ConfigError([`dataLoader: padCrop and flip need image examples [h, w, c], got shape [${ds.shape.join(', ')}]`]);
  }

  /** Copy example `src` into `out` at `dst`, scaled, normalised and augmented. */
  const fill = (out: Float32Array, dst: number, src: number, aug: Key) => {
    const base = src * per, o = dst * per;
    const a = drawAugmentation(aug, pad, flip);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const s = sourcePixel(i, j, a, h, w);
        for (let k = 0; k < c; k++) {
          // Padding is zero in the raw (pre-normalisation) domain, as torchvision's RandomCrop.
          const raw = s >= 0 ? ds.x[base + s * c + k] * scale : 0;
          out[o + (i * w + j) * c + k] = (raw - mean[k]) / std[k];
        }
      }
    }
  };

  /** The batches of one epoch, in that epoch's order. */
  function* epochBatches(epoch: number): Generator<Batch> {
    const epochKey = foldIn(key, epoch);
    const order = opts.shuffle ?? true ? permutation(epochKey, n) : Int32Array.from({ length: n }, (_, i) => i);
    for (let b = 0; b < length; b++) {
      const idx = order.subarray(b * bs, Math.min(n, (b + 1) * bs));
      const xs = new Float32Array(idx.length * per);
      const ys = new Int32Array(idx.length);
      idx.forEach((src, i) => {
        fill(xs, i, src, foldIn(epochKey, src + 1));
        ys[i] = ds.y[src];
      });
      yield { x: tf.tensor(xs, [idx.length, ...ds.shape], 'float32'), y: tf.tensor1d(ys, 'int32') };
    }
  }

  return {
    shape: ds.shape,
    length,
    size: dropLast ? length * bs : n,
    ...(nClasses === undefined ? {} : { nClasses }),
    batches(epoch: number) {
      // Checked here, not at the first next(): a generator would defer it.
      decodeArg('dataLoader.batches.epoch', NonNegativeInt, epoch);
      return epochBatches(epoch);
    },
  };
};

/**
 * How examples of `ds` are scaled and normalised: `x · scale`, then `(x - mean[k]) / std[k]` for
 * channel `k` (the last axis of an image `[h, w, c]`, one channel otherwise). Shared by
 * `dataLoader` and `predict`, so that inference sees what training saw; a wrong count of
 * means or stds, or a std ≤ 0, is a ConfigError naming `owner`.
 */
export const preprocessing = (
  owner: string,
  ds: { readonly x: ArrayLike<number>; readonly shape: readonly number[] },
  opts: { readonly scale?: number; readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] } },
): { scale: number; mean: readonly number[]; std: readonly number[]; channels: number } => {
  const channels = ds.shape.length === 3 ? ds.shape[2] : 1;
  const mean = opts.normalize?.mean ?? new Array(channels).fill(0);
  const std = opts.normalize?.std ?? new Array(channels).fill(1);
  if (mean.length !== channels || std.length !== channels || !std.every((s) => s > 0)) {
    throw new ConfigError([`${owner}.normalize: expected ${channels} means and ${channels} positive stds, got ${showValue(opts.normalize)}`]);
  }
  return { scale: opts.scale ?? (ds.x instanceof Uint8Array ? 1 / 255 : 1), mean, std, channels };
};

/**
 * Per-channel mean and std of a dataset after scaling, e.g. for `normalize`.
 *
 * @example
 * ```ts
 * import { channelStats } from 'tsnn';
 *
 * const ds = { x: Uint8Array.from([0, 255, 0, 255]), y: new Int32Array(4), shape: [1, 1, 1] };
 * const { mean, std } = channelStats(ds, 1 / 255); // Fashion-MNIST's: about 0.286 and 0.353
 * console.log(mean, std); // [ 0.5 ] [ 0.5 ]
 * ```
 */
export const channelStats = (ds: ArrayDataset, scale = ds.x instanceof Uint8Array ? 1 / 255 : 1): { mean: number[]; std: number[] } => {
  decodeArg('channelStats.scale', Finite, scale);
  const c = ds.shape.length === 3 ? ds.shape[2] : 1;
  const sum = new Float64Array(c), sq = new Float64Array(c);
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i] * scale;
    sum[i % c] += v;
    sq[i % c] += v * v;
  }
  const count = ds.x.length / c;
  const mean = Array.from(sum, (s) => s / count);
  return { mean, std: Array.from(sq, (s, k) => Math.sqrt(s / count - mean[k] ** 2)) };
};
