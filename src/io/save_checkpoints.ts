/**
 * Checkpoints saved while `fit` runs, as a callback: after each epoch, or
 * when a monitored figure improves, and the last good state on divergence.
 *
 * @module
 */
import { ConfigError } from '../errors.ts';
import type { Callback } from '../train/callbacks.ts';
import type { EpochRow } from '../train/observers.ts';
import { saveCheckpoint } from './checkpoint.ts';

/** Options of {@link saveCheckpoints}. */
export interface SaveCheckpointsOptions {
  /** The file to (over)write, atomically. */
  readonly path: string;
  /** A JSON-serialisable configuration saved with the state (e.g. the model's options). */
  readonly config?: unknown;
  /** `'last'`: after every epoch. `'best'`: when the monitored figure improves. Default `'last'`. */
  readonly mode?: 'last' | 'best';
  /**
   * For `'best'`: a metric's name (higher is better), or `'validLoss'` (lower
   * is better). Default: the first metric, else `'validLoss'`.
   */
  readonly monitor?: string;
}

/** The monitored figure of a row, higher is better. */
const scoreOf = (row: EpochRow, monitor: string | undefined): number => {
  const name = monitor ?? Object.keys(row.metrics)[0] ?? 'validLoss';
  if (name === 'validLoss') return -row.validLoss;
  if (!(name in row.metrics)) {
    throw new ConfigError([`saveCheckpoints.monitor: expected 'validLoss' or one of the metrics (${Object.keys(row.metrics).join(', ')}), got ${JSON.stringify(name)}`]);
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
export const saveCheckpoints = (opts: SaveCheckpointsOptions): Callback => {
  const mode = opts.mode ?? 'last';
  if (typeof opts.path !== 'string' || opts.path === '') throw new ConfigError([`saveCheckpoints.path: expected a file path, got ${JSON.stringify(opts.path)}`]);
  if (mode !== 'last' && mode !== 'best') throw new ConfigError([`saveCheckpoints.mode: expected 'last' | 'best', got ${JSON.stringify(mode)}`]);
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
