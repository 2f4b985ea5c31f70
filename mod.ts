/**
 * tsnn: a functional neural-network library for TypeScript, on Node and Deno.
 *
 * Layers are pairs of pure functions over explicit parameter records; blocks
 * are combinator expressions; optimizers are optax-style transformations;
 * `fit` folds a training step over a loader, fastai style. The laws every
 * layer obeys live in `tsnn/laws`, and the engine's extension points in
 * `tsnn/backend`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, prngKey, resNet } from 'tsnn';
 *
 * const model = resNet({ nIn: 1, nClasses: 10 });
 * const { params, state, outShape } = model.init(prngKey(0), [28, 28, 1]);
 * const x = tf.zeros([2, 28, 28, 1]);
 * const { y } = model.apply(params, state, x, { training: false });
 * console.log(outShape, (y as tf.Tensor).shape); // [ 10 ] [ 2, 10 ]
 * disposeTree({ params, state, x, y: y as tf.Tensor });
 * ```
 *
 * @module
 */

// ---------------------------------------------------------------------------
// Keys, layers, parameter trees, errors
// ---------------------------------------------------------------------------
export { foldIn, type Key, normal, permutation, prngKey, split, uniform } from './src/random.ts';
export {
  type AnyLayer,
  type Applied,
  type Ctx,
  evalCtx,
  expectInput,
  type Flow,
  type FlowShape,
  type Init,
  type Layer,
  type Shape,
  type StatelessLayer,
  tidyApply,
  trainCtx,
  withLabel,
} from './src/layer.ts';
export {
  cloneTree,
  countParams,
  disposeTree,
  type Empty,
  flattenTree,
  mapTree,
  type Tree,
  type TreeOf,
  treesEqual,
  treeShapes,
  unflattenTree,
  zipTrees,
} from './src/tree.ts';
export { ConfigError, LayerError, ShapeError } from './src/errors.ts';

// ---------------------------------------------------------------------------
// Layers (channels are `ni` in, `nf` out throughout, fastai's names)
// ---------------------------------------------------------------------------
export { conv2d, type Conv2dOptions, type Conv2dParams, type ConvInit } from './src/layers/conv.ts';
export { dense, type DenseOptions, type DenseParams, linear } from './src/layers/dense.ts';
export { BATCH_NORM_EPS, batchNorm, type BatchNormOptions, type BatchNormParams, type BatchNormState } from './src/layers/batchnorm.ts';
export { gelu, leakyRelu, type Pointwise, pointwise, relu, sigmoid, silu, tanh } from './src/layers/activations.ts';
export { avgPool, globalAvgPool, maxPool, type PoolOptions } from './src/layers/pooling.ts';
export { dropout, type DropoutOptions, flatten, identity } from './src/layers/shape_ops.ts';
export { kaimingNormal, kaimingUniform, torchDefaultUniform, xavierUniform } from './src/layers/init.ts';

// ---------------------------------------------------------------------------
// Combinators and fastai's blocks
// ---------------------------------------------------------------------------
export { add, type Children, fanInConcat, fanInSum, fanOut, parallel, serial, withKind } from './src/combinators.ts';
export { type Act, chapter14Models, convLayer, type ConvLayerOptions, type ModelOptions, plainNet, resBlock, resNet, resNet2 } from './src/blocks.ts';
export { bottleneckBlock, resnet18, resnet34, resnet50, resNetArch, type ResNetArchOptions, resnetStem } from './src/resnet_arch.ts';

// ---------------------------------------------------------------------------
// Running and differentiating
// ---------------------------------------------------------------------------
export { formatSummary, forward, summary, type SummaryRow } from './src/apply.ts';
export { type LossAndAux, type ValueAndGrad, valueAndGrad } from './src/autodiff.ts';

// ---------------------------------------------------------------------------
// Optimizers and schedules
// ---------------------------------------------------------------------------
export {
  type AnyTransformation,
  applyUpdates,
  type GradientTransformation,
  type Hyper,
  hyperAt,
  type OptState,
  type ParamStep,
  type StepSchedule,
  tidyTransformation,
  type Update,
} from './src/optim/base.ts';
export { chain, stepParams } from './src/optim/chain.ts';
export {
  type AdamOptions,
  type AdamState,
  addDecayedWeights,
  clipByGlobalNorm,
  type Mask,
  masked,
  type RmsOptions,
  type RmsState,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRms,
  trace,
  type TraceOptions,
  type TraceState,
  weightsOnly,
} from './src/optim/transforms.ts';
export { freeze, type Labeler, multiTransform, setToZero } from './src/optim/partition.ts';
export {
  adam,
  type AdamAliasOptions,
  adamW,
  type AdamWOptions,
  momentum,
  type MomentumOptions,
  rmsprop,
  type RmspropOptions,
  sgd,
} from './src/optim/aliases.ts';
export {
  combinedCos,
  combineScheds,
  flatCos,
  oneCycle,
  type OneCycleOptions,
  perStep,
  type Sched,
  schedCos,
  schedExp,
  schedLin,
  schedNo,
  warmup,
} from './src/optim/schedules.ts';

// ---------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------
export { crossEntropy, type CrossEntropyOptions, crossEntropyWith, type Loss, mse } from './src/train/losses.ts';
export { accuracy, errorRate, type Metric, runningMean } from './src/train/metrics.ts';
export { disposeReplacedTrainState, disposeTrainState, evalStep, initTrainState, type StepResult, type TrainState, trainStep } from './src/train/step.ts';
export { type BatchEnd, type EpochRow, epochTable, type EpochTableOptions, formatEpochTable, type Observer, type TrainBegin } from './src/train/observers.ts';
export { type ProgressBar, progressBar, type TextOut } from './src/train/progress_bar.ts';
export type { Callback, Divergence, StopTraining } from './src/train/callbacks.ts';
export { earlyStopping, type EarlyStoppingOptions } from './src/train/early_stopping.ts';
export type { Better } from './src/train/tracker.ts';
export { describeNonFinite, type NonFinite, nonFiniteTensors } from './src/train/finite.ts';
export {
  type Data,
  DivergenceError,
  evaluate,
  fit,
  fitOneCycle,
  type FitOneCycleOptions,
  type FitOptions,
  type FitResult,
  type Step,
  type StepFactory,
  type StepParts,
} from './src/train/fit.ts';
export { fineTune, type FineTuneOptions, type FineTuneResult } from './src/train/fine_tune.ts';
export { predict, type Predictions, type PredictOptions, type Preprocess } from './src/train/predict.ts';
export { tta, type TtaOptions } from './src/train/tta.ts';
export { type ConfusionMatrix, confusionMatrix, confusionMatrixSvg, mostConfused, type TopLoss, topLosses, topLossesSvg } from './src/train/interpretation.ts';
export { lossPlotSvg, type Recorded, recorder } from './src/train/recorder.ts';
export { evenMults, groupLrs, type LrSlice, lrSlice } from './src/train/param_groups.ts';
export { lrFind, type LrFindOptions, type LrFindResult, lrFindSvg, minimumSuggestion, steepSuggestion, valleySuggestion } from './src/train/lr_find.ts';

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------
export { type ArrayDataset, type Batch, channelStats, dataLoader, type Loader, type LoaderOptions } from './src/data/loader.ts';
export { type Augmentation, augmentImages, drawAugmentation, sourcePixel } from './src/data/augment.ts';

// ---------------------------------------------------------------------------
// Checkpoints (safetensors)
// ---------------------------------------------------------------------------
export { decodeSafetensors, type Dtype, encodeSafetensors, type Safetensors, SafetensorsError, type StoredTensor } from './src/io/safetensors.ts';
export { CheckpointError, type CheckpointTemplate, decodeCheckpoint, encodeCheckpoint, type Loaded } from './src/io/checkpoint.ts';

// ---------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------
export { type BackendName, selectBackend, type SelectOptions } from './src/backend/select.ts';
export { backendInfo } from './src/backend_info.ts';
// fit, fitOneCycle, lrFind and trainStep choose the fastest engine when none was chosen (selectBackend() then runs).
import './src/default_engine.ts';
