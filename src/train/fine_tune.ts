/**
 * fastai's `Learner.fine_tune`: train the last parameter group with the
 * others frozen, then everything with discriminative learning rates.
 *
 * @module
 */
import * as t from 'io-ts';
import { NonNegativeInt, optionSet, type OptionSetOf, type OptionsOf, Positive, PositiveInt, type SameType, typesAgree, UnitInterval } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { AnyLayer } from '../layer.ts';
import { prngKey } from '../random.ts';
import { cloneTree, type Tree } from '../tree.ts';
import { type Data, DivergenceError, fit, type FitOneCycleOptions, FitOneCycleOptionSet, type FitResult, oneCycleOpt } from './fit.ts';
import { lrSlice } from './param_groups.ts';
import { disposeTrainState, type TrainState } from './step.ts';

/** Options of {@link fineTune}. */
export interface FineTuneOptions extends Omit<FitOneCycleOptions, 'epochs' | 'lrMax' | 'frozen' | 'trainState' | 'pctStart' | 'div' | 'maxSteps'> {
  /** Epochs with everything trainable. */
  readonly epochs: number;
  /** fastai's `base_lr`. Default 2e-3. */
  readonly baseLr?: number;
  /** Epochs with all groups but the last frozen. Default 1; 0 skips that phase. */
  readonly freezeEpochs?: number;
  /** The first group trains at `baseLr / 2 / lrMult` after unfreezing. Default 100. */
  readonly lrMult?: number;
  /** `pctStart` after unfreezing. Default 0.3. */
  readonly pctStart?: number;
  /** `div` after unfreezing. Default 5. */
  readonly div?: number;
  /** Params and state to start from (a pretrained model), copied; default a fresh `init` from `key`. */
  readonly from?: { readonly params: Tree; readonly state: Tree };
}

const fineTuneRequired = { epochs: PositiveInt };
const fineTuneOptional = {
  baseLr: Positive,
  freezeEpochs: NonNegativeInt,
  lrMult: Positive,
  pctStart: UnitInterval,
  div: Positive,
  from: t.type({ params: t.UnknownRecord, state: t.UnknownRecord }, 'params and state { params, state }') as unknown as t.Type<
    { readonly params: Tree; readonly state: Tree },
    { readonly params: Tree; readonly state: Tree },
    unknown
  >,
};

/** What {@link fineTune} returns: the last phase's result, and the frozen phase's history. */
export interface FineTuneResult extends FitResult {
  /** The epoch rows of the frozen phase (empty with `freezeEpochs: 0`). */
  readonly frozenHistory: FitResult['history'];
}

/**
 * fastai's `fine_tune(epochs, base_lr, freeze_epochs)`, on parameter groups:
 *
 * 1. all groups but the last frozen (BatchNorm still training, as
 *    `trainBn` allows), `fitOneCycle(freezeEpochs, lrSlice(baseLr), { pctStart: 0.99 })`;
 * 2. `baseLr /= 2`, everything unfrozen,
 *    `fitOneCycle(epochs, lrSlice(baseLr / lrMult, baseLr), { pctStart, div })`.
 *
 * `groups` needs at least two groups (say `[['stem', 'stages'], ['head']]`):
 * with one there is nothing to freeze. Each phase starts with fresh optimizer
 * moments and its own step count (fastai keeps the trained group's moments
 * across the unfreeze). Other options are `fitOneCycle`'s, given to both phases.
 *
 * @example
 * ```ts
 * import { dataLoader, dense, disposeTrainState, fineTune, serial, withLabel } from 'tsnn';
 *
 * const ds = { x: Float32Array.from({ length: 16 * 4 }, (_, i) => i % 3), y: Int32Array.from({ length: 16 }, (_, i) => i % 2), shape: [4] };
 * const train = dataLoader(ds, { batchSize: 8 });
 * const model = serial(withLabel('body', dense({ nf: 8 })), withLabel('head', dense({ nf: 2 })));
 * const r = await fineTune(model, { train }, { epochs: 2, groups: [['body'], ['head']], observers: [] });
 * console.log(r.frozenHistory.length, r.history.length, r.trainState.step); // 1 2 4
 * disposeTrainState(r.trainState);
 * ```
 */
export const fineTune = async (model: AnyLayer, data: Data, options: FineTuneOptions): Promise<FineTuneResult> => {
  const { epochs, baseLr: b, freezeEpochs: fe, lrMult: m, pctStart: p, div: d, from, ...shared } = options;
  const o = FineTuneOptionSet.decode({
    epochs,
    ...(b === undefined ? {} : { baseLr: b }),
    ...(fe === undefined ? {} : { freezeEpochs: fe }),
    ...(m === undefined ? {} : { lrMult: m }),
    ...(p === undefined ? {} : { pctStart: p }),
    ...(d === undefined ? {} : { div: d }),
    ...(from === undefined ? {} : { from }),
  });
  // The options both phases share are fitOneCycle's, checked as it checks them.
  FitOneCycleOptionSet.decode({ ...shared, epochs: o.epochs, lrMax: o.baseLr ?? 2e-3 }, 'fineTune');
  const groups = shared.groups;
  if (!groups || groups.length < 2) {
    throw new ConfigError([
      `fineTune.groups: expected at least 2 groups of path prefixes (the last trains while the others are frozen), got ${JSON.stringify(groups)}`,
    ]);
  }
  const baseLr = o.baseLr ?? 2e-3, freezeEpochs = o.freezeEpochs ?? 1, lrMult = o.lrMult ?? 100;
  const key = shared.key ?? prngKey(0);
  let start: { params: Tree; state: Tree } | undefined = from ? { params: cloneTree(from.params), state: cloneTree(from.state) } : undefined;
  /** One phase: a fresh optimizer state over the params so far, fit from step 0. */
  const phase = async (phaseEpochs: number, oneCycle: Omit<FitOneCycleOptions, 'epochs'>): Promise<FitResult> => {
    const opt = oneCycleOpt({ ...shared, ...oneCycle }, phaseEpochs * data.train.length);
    const { groups: _g, trainBn: _b, weightDecay: _w, makeOpt: _m, moms: _o, divFinal: _f, ...fitOpts } = shared;
    let trainState: TrainState | undefined;
    if (start) {
      trainState = { params: start.params, state: start.state, optState: opt.init(start.params), step: 0, key };
      start = undefined; // fit owns it now
    }
    try {
      return await fit(model, data, { ...fitOpts, epochs: phaseEpochs, opt, key, ...(trainState ? { trainState } : {}) });
    } catch (e) {
      // fit leaves a state it was given, and never replaced, to the caller, which is this function (a diverged run's lastGood is the user's).
      if (trainState && !(e instanceof DivergenceError)) disposeTrainState(trainState);
      throw e;
    }
  };
  let frozenHistory: FitResult['history'] = [];
  try {
    if (freezeEpochs > 0) {
      const frozen = await phase(freezeEpochs, { lrMax: lrSlice(baseLr), pctStart: 0.99, frozen: groups.slice(0, -1).flat() });
      frozenHistory = frozen.history;
      start = { params: frozen.trainState.params, state: frozen.trainState.state };
      disposeTrainState({ ...frozen.trainState, params: {}, state: {} });
    }
    const half = baseLr / 2;
    const r = await phase(o.epochs, { lrMax: lrSlice(half / lrMult, half), pctStart: o.pctStart ?? 0.3, div: o.div ?? 5 });
    return { ...r, frozenHistory };
  } finally {
    if (start) disposeTrainState({ params: start.params, state: start.state, optState: {}, step: 0, key });
  }
};

const FineTuneOptionSet: OptionSetOf<typeof fineTuneRequired, typeof fineTuneOptional> = optionSet('fineTune', fineTuneRequired, fineTuneOptional);
typesAgree<SameType<Pick<FineTuneOptions, keyof OptionsOf<typeof FineTuneOptionSet>>, OptionsOf<typeof FineTuneOptionSet>>>();
