/**
 * fastai's `TrackerCallback`: which figure of the epoch row is watched, which
 * way is better, and whether an epoch improved on the best so far. Shared by
 * `earlyStopping` and `saveCheckpoints`.
 *
 * @module
 */
import * as t from 'io-ts';
import { NonNegative } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { EpochRow } from './observers.ts';

/** Which way a monitored figure is better. */
export type Better = 'lower' | 'higher';

/** The codec of {@link Better}. */
export const BetterCodec: t.Type<Better, Better, unknown> = t.union([t.literal('lower'), t.literal('higher')], "'lower' | 'higher'");

/** The option fields a tracker takes, for the callbacks' codecs. */
export const trackerFields = { monitor: t.string, better: BetterCodec, minDelta: NonNegative };

/** What a tracker is told. */
export interface TrackerOptions {
  /** `'validLoss'`, `'trainLoss'` or a metric's name. */
  readonly monitor: string;
  /** Default fastai's rule: `'lower'` when the name holds "loss" or "error", else `'higher'`. */
  readonly better?: Better;
  /** An epoch improves only by more than this. Default 0. */
  readonly minDelta?: number;
}

/** A tracker of one monitored figure. */
export interface Tracker {
  /** The monitored name. */
  readonly monitor: string;
  /** Which way is better. */
  readonly better: Better;
  /** The best value so far (±Infinity before the first epoch). */
  best(): number;
  /** Read the row's value; true (and it becomes the best) when it beats the best by more than `minDelta`. */
  improved(row: EpochRow): boolean;
}

/** The value of `monitor` in `row`, or a ConfigError naming `owner` and the names there are. */
export const monitoredValue = (owner: string, monitor: string, row: EpochRow): number => {
  if (monitor === 'validLoss') return row.validLoss;
  if (monitor === 'trainLoss') return row.trainLoss;
  if (Object.hasOwn(row.metrics, monitor)) return row.metrics[monitor];
  const names = ['trainLoss', 'validLoss', ...Object.keys(row.metrics)].map((n) => `'${n}'`).join(', ');
  throw new ConfigError([`${owner}.monitor: expected one of ${names}, got ${JSON.stringify(monitor)}`]);
};

/**
 * A tracker with fastai's rule: when lower is better, an epoch improves when
 * `value + minDelta < best`; when higher is, when `value - minDelta > best`. A
 * NaN never improves.
 *
 * @example
 * ```ts
 * import { tracker } from './tracker.ts';
 *
 * const t = tracker('demo', { monitor: 'validLoss', minDelta: 0.01 });
 * const row = (validLoss: number) => ({ epoch: 0, trainLoss: 1, validLoss, metrics: {}, seconds: 1 });
 * console.log(t.better, t.improved(row(0.5)), t.improved(row(0.495)), t.improved(row(0.48))); // lower true false true
 * ```
 */
export const tracker = (owner: string, opts: TrackerOptions): Tracker => {
  const better = opts.better ?? (/loss|error/i.test(opts.monitor) ? 'lower' : 'higher');
  const minDelta = opts.minDelta ?? 0;
  let best = better === 'lower' ? Infinity : -Infinity;
  return {
    monitor: opts.monitor,
    better,
    best: () => best,
    improved(row) {
      const v = monitoredValue(owner, opts.monitor, row);
      const improves = better === 'lower' ? v + minDelta < best : v - minDelta > best;
      if (improves) best = v;
      return improves;
    },
  };
};
