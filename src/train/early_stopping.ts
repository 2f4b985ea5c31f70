/**
 * fastai's `EarlyStoppingCallback`: stop `fit` when a monitored figure has
 * not improved for `patience` epochs.
 *
 * @module
 */
import { type NoFields, optionSet, type OptionSetOf, type OptionsOf, PositiveInt, type SameType, typesAgree } from '../config.ts';
import type { Callback } from './callbacks.ts';
import { type Better, tracker, trackerFields } from './tracker.ts';

/** Options of {@link earlyStopping}. */
export interface EarlyStoppingOptions {
  /** `'validLoss'` (the default, as in fastai), `'trainLoss'` or a metric's name. */
  readonly monitor?: string;
  /** Which way is better. Default `'lower'` when the name holds "loss" or "error", else `'higher'` (fastai's rule). */
  readonly better?: Better;
  /** An epoch improves only by more than this. Default 0. */
  readonly minDelta?: number;
  /** Epochs without improvement before stopping. Default 1. */
  readonly patience?: number;
}

const earlyStoppingOptional = { ...trackerFields, patience: PositiveInt };
const EarlyStoppingOptionSet: OptionSetOf<NoFields, typeof earlyStoppingOptional> = optionSet('earlyStopping', {}, earlyStoppingOptional);
typesAgree<SameType<EarlyStoppingOptions, OptionsOf<typeof EarlyStoppingOptionSet>>>();

/**
 * A callback that stops `fit` after `patience` epochs in a row without
 * improvement (fastai's rule; see `minDelta`). `fit` then returns the state
 * after the last epoch run, and its result's `stopped` says why.
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, earlyStopping, fit } from 'tsnn';
 *
 * const ds = { x: new Float32Array(8 * 4), y: new Int32Array(8), shape: [4] }; // nothing to learn
 * const train = dataLoader(ds, { batchSize: 4 });
 * const stop = earlyStopping({ monitor: 'accuracy', patience: 2 });
 * const r = await fit(dense({ nf: 2 }), { train, valid: train }, { epochs: 10, opt: adamW(1e-3), callbacks: [stop], observers: [] });
 * console.log(r.history.length, r.stopped); // 3 No improvement in accuracy since epoch 0: early stopping
 * disposeTrainState(r.trainState);
 * ```
 */
export const earlyStopping = (options: EarlyStoppingOptions = {}): Callback => {
  const o = EarlyStoppingOptionSet.decode(options);
  const patience = o.patience ?? 1;
  const monitor = o.monitor ?? 'validLoss';
  const fresh = () => tracker('earlyStopping', { monitor, ...(o.better ? { better: o.better } : {}), minDelta: o.minDelta ?? 0 });
  let watch = fresh();
  let wait = 0;
  return {
    onTrainBegin() {
      // fastai's reset_on_fit: each fit starts afresh.
      watch = fresh();
      wait = 0;
    },
    onEpochEnd(row) {
      if (watch.improved(row)) {
        wait = 0;
        return;
      }
      wait++;
      if (wait >= patience) return { stop: `No improvement in ${monitor} since epoch ${row.epoch - wait}: early stopping` };
    },
  };
};
