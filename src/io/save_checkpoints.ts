/**
 * Checkpoints saved while `fit` runs, as a callback: after each epoch, or
 * when a monitored figure improves, and the last good state on divergence.
 *
 * @module
 */
import * as t from 'io-ts';
import { JsonValue, nonEmptyString, optionSet, type OptionSetOf, type OptionsOf, type SameType, typesAgree } from '../config.ts';
import type { Callback } from '../train/callbacks.ts';
import { type Better, type Tracker, tracker, trackerFields } from '../train/tracker.ts';
import { saveCheckpoint } from './checkpoint_file.ts';

const Path: t.Type<string, string, unknown> = nonEmptyString('a file path');
const Mode: t.UnionC<[t.LiteralC<'last'>, t.LiteralC<'best'>]> = t.union([t.literal('last'), t.literal('best')], "'last' | 'best'");

/** Options of {@link saveCheckpoints}. */
export interface SaveCheckpointsOptions {
  /** The file to (over)write, atomically. */
  readonly path: string;
  /** A JSON-serialisable configuration saved with the state (e.g. the model's options). */
  readonly config?: unknown;
  /** `'last'`: after every epoch. `'best'`: when the monitored figure improves. Default `'last'`. */
  readonly mode?: 'last' | 'best';
  /**
   * For `'best'`: `'validLoss'`, `'trainLoss'` or a metric's name. Default:
   * the first metric, else `'validLoss'`.
   */
  readonly monitor?: string;
  /** For `'best'`: which way is better. Default `'lower'` when the name holds "loss" or "error", else `'higher'` (fastai's rule). */
  readonly better?: Better;
  /** For `'best'`: an epoch improves only by more than this. Default 0. */
  readonly minDelta?: number;
}

const saveCheckpointsRequired = { path: Path };
const saveCheckpointsOptional = { config: JsonValue, mode: Mode, ...trackerFields };
const SaveCheckpointsOptionSet: OptionSetOf<typeof saveCheckpointsRequired, typeof saveCheckpointsOptional> = optionSet(
  'saveCheckpoints',
  saveCheckpointsRequired,
  saveCheckpointsOptional,
);
typesAgree<SameType<SaveCheckpointsOptions, OptionsOf<typeof SaveCheckpointsOptionSet>>>();

/**
 * A callback for `fit` that saves checkpoints to `path`; on divergence it saves the last good state there.
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, fit } from 'tsnn';
 * import { loadCheckpointOrThrow, saveCheckpoints } from 'tsnn/node';
 *
 * const dir = Deno.makeTempDirSync();
 * const ds = { x: new Float32Array(8 * 4), y: Int32Array.from({ length: 8 }, (_, i) => i % 2), shape: [4] };
 * const train = dataLoader(ds, { batchSize: 4 }), opt = adamW(1e-3);
 * const saver = saveCheckpoints({ path: `${dir}/best.safetensors`, mode: 'best', config: { model: 'dense' } });
 * const { trainState } = await fit(dense({ nf: 2 }), { train, valid: train }, { epochs: 2, opt, callbacks: [saver], observers: [] });
 * const best = loadCheckpointOrThrow(`${dir}/best.safetensors`, { model: dense({ nf: 2 }), opt, inShape: [4] });
 * console.log(best.trainState.step, best.config); // 2 { model: "dense" } (saved after epoch 0; epoch 1 was no better)
 * disposeTrainState(best.trainState);
 * disposeTrainState(trainState);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const saveCheckpoints = (options: SaveCheckpointsOptions): Callback => {
  const opts = SaveCheckpointsOptionSet.decode(options);
  const mode = opts.mode ?? 'last';
  let watch: Tracker | undefined;
  return {
    onTrainBegin() {
      watch = undefined; // each fit starts afresh (fastai's reset_on_fit)
    },
    async onEpochEnd(row, ts) {
      if (mode === 'last') return await saveCheckpoint(opts.path, ts, opts.config);
      const monitor = opts.monitor ?? Object.keys(row.metrics)[0] ?? 'validLoss';
      watch ??= tracker('saveCheckpoints', { monitor, ...(opts.better ? { better: opts.better } : {}), minDelta: opts.minDelta ?? 0 });
      if (watch.improved(row)) await saveCheckpoint(opts.path, ts, opts.config);
    },
    async onDivergence(lastGood) {
      await saveCheckpoint(opts.path, lastGood, opts.config);
      return `it was saved to '${opts.path}'`;
    },
  };
};
