/**
 * Checkpoints saved while `fit` runs, as a callback: after each epoch, or
 * when a monitored figure improves, and the last good state on divergence.
 *
 * @module
 */
import * as t from 'io-ts';
import { JsonValue, nonEmptyString, optionSet, type OptionSetOf, type OptionsOf } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { Callback } from '../train/callbacks.ts';
import type { EpochRow } from '../train/observers.ts';
import { saveCheckpoint } from './checkpoint_file.ts';

const Path: t.Type<string, string, unknown> = nonEmptyString('a file path');
const Mode: t.UnionC<[t.LiteralC<'last'>, t.LiteralC<'best'>]> = t.union([t.literal('last'), t.literal('best')], "'last' | 'best'");

const saveCheckpointsRequired = {
  /** The file to (over)write, atomically. */
  path: Path,
};
const saveCheckpointsOptional = {
  /** A JSON-serialisable configuration saved with the state (e.g. the model's options). */
  config: JsonValue,
  /** `'last'`: after every epoch. `'best'`: when the monitored figure improves. Default `'last'`. */
  mode: Mode,
  /**
   * For `'best'`: a metric's name (higher is better), or `'validLoss'` (lower
   * is better). Default: the first metric, else `'validLoss'`.
   */
  monitor: t.string,
};
const SaveCheckpointsOptions: OptionSetOf<typeof saveCheckpointsRequired, typeof saveCheckpointsOptional> = optionSet(
  'saveCheckpoints',
  saveCheckpointsRequired,
  saveCheckpointsOptional,
);

/** Options of {@link saveCheckpoints}. */
export type SaveCheckpointsOptions = OptionsOf<typeof SaveCheckpointsOptions>;

/** The monitored figure of a row, higher is better. */
const scoreOf = (row: EpochRow, monitor: string | undefined): number => {
  const name = monitor ?? Object.keys(row.metrics)[0] ?? 'validLoss';
  if (name === 'validLoss') return -row.validLoss;
  if (!(name in row.metrics)) {
    throw new ConfigError([
      `saveCheckpoints.monitor: expected 'validLoss' or one of the metrics (${Object.keys(row.metrics).join(', ')}), got ${JSON.stringify(name)}`,
    ]);
  }
  return row.metrics[name];
};

/**
 * A callback for `fit` that saves checkpoints to `path`; on divergence it saves the last good state there.
 *
 * @example
 * ```ts
 * import { saveCheckpoints } from './save_checkpoints.ts';
 * const saver = saveCheckpoints({ path: 'runs/best.safetensors', mode: 'best', config: { model: 'resnet' } });
 * // await fit(model, data, { epochs: 5, opt, callbacks: [saver] });
 * ```
 */
export const saveCheckpoints = (options: SaveCheckpointsOptions): Callback => {
  const opts = SaveCheckpointsOptions.decode(options);
  const mode = opts.mode ?? 'last';
  let best = -Infinity;
  return {
    onEpochEnd(row, ts) {
      const score = scoreOf(row, opts.monitor);
      if (mode === 'last' || score > best) saveCheckpoint(opts.path, ts, opts.config);
      best = Math.max(best, score);
    },
    onDivergence(lastGood) {
      saveCheckpoint(opts.path, lastGood, opts.config);
      return `it was saved to '${opts.path}'`;
    },
  };
};
