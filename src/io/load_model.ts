/**
 * Inference from a checkpoint: the model rebuilt from the configuration saved
 * with it, its params and state, and the preprocessing it was trained with,
 * with no optimizer.
 *
 * @module
 */
import * as fs from 'node:fs';
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { type NoFields, NonNegativeInt, optionSet, type OptionSetOf, type OptionsOf, type SameType, typesAgree } from '../config.ts';
import type { ConfigError } from '../errors.ts';
import { chapter14Models } from '../blocks.ts';
import type { AnyLayer, Shape } from '../layer.ts';
import { resnet18, resnet34, resnet50 } from '../resnet_arch.ts';
import type { Preprocess } from '../train/predict.ts';
import type { Tree } from '../tree.ts';
import { CheckpointError, MAX_CHECKPOINT_HEADER } from './checkpoint.ts';
import { loadCheckpoint } from './checkpoint_file.ts';
import { decodeHeader, headerLength } from './safetensors.ts';

/** Builds a model from the configuration saved with a checkpoint. */
export type ModelBuilder = (config: Record<string, unknown>) => AnyLayer;

/**
 * The builders {@link loadModel} knows by the config's `model` name: the
 * chapter-14 models (`plain`, `resnet`, `resnet2`, given the config as their
 * options) and `resnet18/34/50` (given `nOut` and the rest as options).
 */
export const MODEL_BUILDERS: Readonly<Record<string, ModelBuilder>> = {
  ...Object.fromEntries(Object.entries(chapter14Models).map(([name, build]) => [name, (c: Record<string, unknown>) => build(c as never)])),
  ...Object.fromEntries(
    ([['resnet18', resnet18], ['resnet34', resnet34], ['resnet50', resnet50]] as const).map(([name, build]) => [
      name,
      ({ nOut, ...o }: Record<string, unknown>) => build(nOut as number, o as never),
    ]),
  ),
};

/** A model loaded for inference. */
export interface LoadedModel {
  /** The model, rebuilt from the config. */
  readonly model: AnyLayer;
  /** Its params (the caller owns them: `disposeTree`). */
  readonly params: Tree;
  /** Its state, BatchNorm's running statistics (the caller owns them too). */
  readonly state: Tree;
  /** The input shape, batch excluded. */
  readonly inShape: Shape;
  /** The preprocessing saved with it, for `predict`. */
  readonly preprocess: Preprocess;
  /** The class names saved with it, if any (`config.classes`). */
  readonly classes?: readonly string[];
  /** The training augmentation saved with it, if any (`config.augment`), for `tta`. */
  readonly augment?: TrainingAugmentation;
  /** The whole config saved with it. */
  readonly config: Record<string, unknown>;
  /** The training step it was saved at. */
  readonly step: number;
}

/** The augmentation a model was trained with, as `dataLoader` takes it: what `tta` should repeat. */
export interface TrainingAugmentation {
  /** `dataLoader`'s `padCrop`. */
  readonly padCrop?: number;
  /** `dataLoader`'s `flip`. */
  readonly flip?: boolean;
}
const augmentFields = { padCrop: NonNegativeInt, flip: t.boolean };
const AugmentOptionSet: OptionSetOf<NoFields, typeof augmentFields> = optionSet('metadata.config.augment', {}, augmentFields);
typesAgree<SameType<TrainingAugmentation, OptionsOf<typeof AugmentOptionSet>>>();

/** The config's fields loadModel reads: `{ model, inShape, preprocess?, classes?, augment?, ...builder options }`. */
const configOf = (file: string): Record<string, unknown> => {
  const cannot = (why: string) => new CheckpointError(file, [why]);
  let bytes: Uint8Array, size: number;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      size = fs.fstatSync(fd).size;
      const prefix = new Uint8Array(8);
      fs.readSync(fd, prefix, 0, 8, 0);
      const n = headerLength(prefix, size, MAX_CHECKPOINT_HEADER);
      if (isLeft(n)) throw cannot(`not a valid safetensors file: ${n.left.problems.join('; ')}`);
      bytes = new Uint8Array(n.right);
      fs.readSync(fd, bytes, 0, n.right, 8);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw cannot(`cannot read: ${(e as Error).message}`);
  }
  const h = decodeHeader(bytes, size);
  if (isLeft(h)) throw cannot(`not a valid safetensors file: ${h.left.problems.join('; ')}`);
  let config: unknown;
  try {
    config = JSON.parse(h.right.metadata.config ?? 'null');
  } catch {
    throw cannot('metadata.config: expected JSON');
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw cannot(`metadata.config: expected an object { model, inShape, ... } to rebuild the model from, got ${JSON.stringify(config)}`);
  }
  return config as Record<string, unknown>;
};

/**
 * Load a checkpoint for inference: the model is rebuilt from its config's
 * `model` name (see {@link MODEL_BUILDERS}, or pass your own `builders`) at
 * its `inShape`, and params and state are checked against it as
 * `loadCheckpoint` checks them (the optimizer state is skipped, the checksum
 * still covers it). `preprocess`, `classes` and `augment` (the training
 * augmentation, for `tta`) come from the config when it has them. Every failure, a missing file included, is a
 * `CheckpointError` naming the file.
 *
 * @example
 * ```ts
 * import { adamW, disposeTrainState, disposeTree, initTrainState, predict, prngKey, resNet } from 'tsnn';
 * import { loadModel, saveCheckpoint } from 'tsnn/node';
 *
 * const dir = Deno.makeTempDirSync();
 * const opts = { nIn: 1, nClasses: 10, channels: [4, 8] };
 * const ts = initTrainState(resNet(opts), adamW(1e-3), prngKey(0), [28, 28, 1]);
 * await saveCheckpoint(`${dir}/m.safetensors`, ts, { model: 'resnet', ...opts, inShape: [28, 28, 1], preprocess: { normalize: { mean: [0.29], std: [0.35] } } });
 * const m = loadModel(`${dir}/m.safetensors`);
 * const { classes } = await predict(m.model, m, { x: new Uint8Array(2 * 784), shape: m.inShape }, m.preprocess);
 * console.log(m.step, classes.length); // 0 2
 * disposeTree({ params: m.params, state: m.state });
 * disposeTrainState(ts);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const loadModel = (file: string, options: { readonly builders?: Readonly<Record<string, ModelBuilder>> } = {}): LoadedModel => {
  const config = configOf(file);
  const builders = options.builders ?? MODEL_BUILDERS;
  const { model: name, inShape, preprocess, classes, augment, ...rest } = config;
  if (typeof name !== 'string' || !Object.hasOwn(builders, name)) {
    throw new CheckpointError(file, [
      `metadata.config.model: expected one of ${Object.keys(builders).map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(name)}`,
    ]);
  }
  if (!Array.isArray(inShape) || !inShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new CheckpointError(file, [`metadata.config.inShape: expected the input shape (positive integers), got ${JSON.stringify(inShape)}`]);
  }
  let augmentation: TrainingAugmentation | undefined;
  try {
    augmentation = augment === undefined ? undefined : AugmentOptionSet.decode(augment);
  } catch (e) {
    throw new CheckpointError(file, (e as ConfigError).problems);
  }
  let model: AnyLayer, r: ReturnType<typeof loadCheckpoint>;
  try {
    model = builders[name](rest);
    r = loadCheckpoint(file, { model, inShape: inShape as number[] });
  } catch (e) {
    // loadCheckpoint throws only for a template it cannot init: here the template is the file's config,
    // so a config the builder or the model refuses is the file's fault, not the caller's bug.
    const problems = (e as { problems?: readonly string[] }).problems ?? [(e as Error).message];
    throw new CheckpointError(file, problems.map((p) => `metadata.config: ${p}`));
  }
  if (isLeft(r)) throw r.left;
  const { params, state, step } = r.right.trainState;
  const named = Array.isArray(classes) && classes.every((c) => typeof c === 'string') ? { classes: classes as string[] } : {};
  return {
    model,
    params,
    state,
    inShape: inShape as number[],
    preprocess: (preprocess ?? {}) as Preprocess,
    config,
    step,
    ...named,
    ...(augmentation ? { augment: augmentation } : {}),
  };
};
