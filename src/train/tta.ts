/**
 * Test-time augmentation, as fastai's `Learner.tta`: the predictions on `n`
 * augmented copies of the inputs, averaged, then blended with the plain
 * predictions.
 *
 * @module
 */
import * as t from 'io-ts';
import {
  Finite,
  Fraction,
  type NoFields,
  NonNegativeInt,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  PositiveInt,
  PrngKey,
  type SameType,
  typesAgree,
} from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { AnyLayer, Shape } from '../layer.ts';
import type { Tree } from '../tree.ts';
import { foldIn, type Key, prngKey } from '../random.ts';
import { augmentImages, drawAugmentation } from '../data/augment.ts';
import { Normalize, preprocessing } from '../data/loader.ts';
import { predict, type Predictions, type PredictOptions, rowArgMax } from './predict.ts';

/** Options of {@link tta}: the augmentation (as `dataLoader`'s), its passes and the blend. */
export interface TtaOptions extends PredictOptions {
  /** Random shift of up to this many pixels, zero-padded, as `dataLoader`'s `padCrop`. Default 0. */
  readonly padCrop?: number;
  /** Random horizontal flips. Default true (`dataLoader`'s default is false: pass what training used). */
  readonly flip?: boolean;
  /** Augmented passes. Default 4 (fastai's). */
  readonly n?: number;
  /** Weight of the plain predictions: `probs = (1 - beta) · mean(augmented) + beta · plain`. Default 0.25 (fastai's). */
  readonly beta?: number;
  /** Draws the augmentations. Default `prngKey(0)`. */
  readonly key?: Key;
}

const ttaFields = {
  padCrop: NonNegativeInt,
  flip: t.boolean,
  n: PositiveInt,
  beta: Fraction,
  key: PrngKey,
  batchSize: PositiveInt,
  scale: Finite,
  normalize: Normalize,
};
const TtaOptionSet: OptionSetOf<NoFields, typeof ttaFields> = optionSet('tta', {}, ttaFields);
typesAgree<SameType<TtaOptions, OptionsOf<typeof TtaOptionSet>>>();

/**
 * Class probabilities of images `[h, w, c]` with test-time augmentation:
 * fastai's `tta(n=4, beta=0.25)`, with the training augmentation of
 * `dataLoader` (`padCrop`, `flip`), each pass and example drawn from `key`.
 * `classes` is the arg max of the blended probabilities.
 *
 * @example
 * ```ts
 * import { conv2d, disposeTrainState, flatten, globalAvgPool, initTrainState, prngKey, serial, sgd, tta } from 'tsnn';
 *
 * const model = serial(conv2d({ nf: 3, ks: 3 }), globalAvgPool, flatten);
 * const ts = initTrainState(model, sgd(0.1), prngKey(0), [8, 8, 1]);
 * const images = { x: new Uint8Array(2 * 64).map((_, i) => i % 251), shape: [8, 8, 1] };
 * const { probs, classes, nClasses } = await tta(model, ts, images, { padCrop: 1, n: 2 });
 * console.log(probs.length, classes.length, nClasses); // 6 2 3
 * disposeTrainState(ts);
 * ```
 */
export const tta = async (
  model: AnyLayer,
  vars: { readonly params: Tree; readonly state: Tree },
  images: { readonly x: Float32Array | Uint8Array; readonly shape: Shape },
  opts: TtaOptions = {},
): Promise<Predictions> => {
  const { padCrop = 0, flip = true, n = 4, beta = 0.25, key = prngKey(0), ...predictOpts } = TtaOptionSet.decode(opts);
  if (images.shape.length !== 3) throw new ConfigError([`tta.images.shape: expected images [h, w, c], got [${images.shape.join(', ')}]`]);
  if (padCrop === 0 && !flip) throw new ConfigError(['tta: expected an augmentation (padCrop > 0 or flip), got neither']);
  preprocessing('tta', images, predictOpts); // refused here, under tta's name, rather than by the first predict
  // The augmented copies keep the inputs' array type, so predict's default scale (1/255 for bytes) applies to both.
  const plain = await predict(model, vars, images, predictOpts);
  const mean = new Float32Array(plain.probs.length);
  for (let pass = 0; pass < n; pass++) {
    const passKey = foldIn(key, pass);
    const x = augmentImages(images, (e) => drawAugmentation(foldIn(passKey, e), padCrop, flip));
    const p = await predict(model, vars, { x, shape: images.shape }, predictOpts);
    for (let i = 0; i < mean.length; i++) mean[i] += p.probs[i] / n;
  }
  const probs = mean.map((m, i) => (1 - beta) * m + beta * plain.probs[i]);
  return { probs, classes: rowArgMax(probs, plain.nClasses), nClasses: plain.nClasses };
};
