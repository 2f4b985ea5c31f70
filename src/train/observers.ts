/**
 * What `fit` reports, and the observer that prints it: fastai's epoch table
 * with a progress bar on a TTY. (The JSON-lines log, which writes a file, is
 * `jsonLog` in `tsnn/node`.)
 *
 * @module
 */
import * as t from 'io-ts';
import { guard, type NoFields, optionSet, type OptionSetOf, type OptionsOf } from '../config.ts';
import { formatTime } from './format_time.ts';
import { type ProgressBar, progressBar, type TextOut } from './progress_bar.ts';

export { formatTime };

/** Reported once, before the first step. */
export interface TrainBegin {
  readonly epochs: number;
  readonly startEpoch: number;
  readonly batchesPerEpoch: number;
  readonly metricNames: readonly string[];
  /** The tfjs backend in use, and why it was chosen. */
  readonly backend: string;
}

/** Reported after every step. */
export interface BatchEnd {
  readonly epoch: number;
  readonly batch: number;
  readonly step: number;
  readonly loss: number;
}

/** One row of the epoch table. `validLoss` and metrics are NaN without validation data. */
export interface EpochRow {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly validLoss: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly seconds: number;
}

/** Pure callbacks that `fit` calls; they see numbers, never tensors. */
export interface Observer {
  onTrainBegin?(info: TrainBegin): void;
  onBatchEnd?(info: BatchEnd): void;
  onEpochEnd?(row: EpochRow): void;
  onTrainEnd?(history: readonly EpochRow[]): void;
}

/**
 * Format rows as fastai's aligned table: `epoch  train_loss  valid_loss  accuracy  time`.
 *
 * @example
 * console.log(formatEpochTable(history, ['accuracy']));
 */
export const formatEpochTable = (rows: readonly EpochRow[], metricNames: readonly string[]): string =>
  [tableHeader(metricNames), ...rows.map((r) => tableRow(r, metricNames))].join('\n');

const columns = (names: readonly string[]) => ['epoch', 'train_loss', 'valid_loss', ...names, 'time'];
const pad = (cells: string[], names: readonly string[]) => cells.map((c, i) => c.padEnd(Math.max(columns(names)[i].length, 8))).join('  ').trimEnd();
const tableHeader = (names: readonly string[]) => pad(columns(names), names);
const tableRow = (r: EpochRow, names: readonly string[]) =>
  pad([String(r.epoch), r.trainLoss.toFixed(6), r.validLoss.toFixed(6), ...names.map((n) => (r.metrics[n] ?? NaN).toFixed(6)), formatTime(r.seconds)], names);

const OutCodec: t.Type<TextOut, TextOut, unknown> = guard<TextOut>('a stream { write(s) }', (u) => typeof (u as TextOut)?.write === 'function');

declare const process: { stdout?: TextOut } | undefined;

/**
 * Node's and Deno's stdout where there is one; elsewhere (a browser) lines go
 * to `console.log`, one call per line.
 */
const standardOut = (): TextOut => {
  if (typeof process !== 'undefined' && process.stdout) return process.stdout;
  let pending = '';
  return {
    write(s: string) {
      const lines = (pending + s).split('\n');
      pending = lines.pop()!;
      for (const line of lines) console.log(line);
    },
  };
};

const epochTableOptional = {
  /** Where to write. Default `process.stdout` (in a browser, `console.log`). */
  out: OutCodec,
  /** Show a progress bar during each epoch. Default: when `out` is a TTY. */
  progress: t.boolean,
};
const EpochTableOptions: OptionSetOf<NoFields, typeof epochTableOptional> = optionSet('epochTable', {}, epochTableOptional);

/** Options of {@link epochTable}. */
export type EpochTableOptions = OptionsOf<typeof EpochTableOptions>;

/**
 * Prints the backend, then fastai's epoch table one row per epoch; on a TTY a
 * progress bar shows batches done, time spent and left, and the smoothed loss.
 *
 * @example
 * await fit(model, data, { epochs: 5, opt, observers: [epochTable()] });
 */
export const epochTable = (options: EpochTableOptions = {}): Observer => {
  const opts = EpochTableOptions.decode(options);
  const out: TextOut = opts.out ?? standardOut();
  const progress = opts.progress ?? Boolean(out.isTTY);
  let names: readonly string[] = [];
  let bar: ProgressBar | undefined;
  let running = 0, seen = 0, perEpoch = 0;
  return {
    onTrainBegin(info) {
      names = info.metricNames;
      perEpoch = info.batchesPerEpoch;
      out.write(`backend: ${info.backend}\n${tableHeader(names)}\n`);
    },
    onBatchEnd(info) {
      if (!progress) return;
      if (!bar) {
        bar = progressBar({ write: (s) => out.write(s), isTTY: true, columns: out.columns }, perEpoch);
        running = 0;
        seen = 0;
      }
      seen++;
      // fastai's smoothed loss: an exponential moving average, debiased.
      running = running * 0.98 + info.loss * 0.02;
      bar.update(info.batch + 1, `loss ${(running / (1 - 0.98 ** seen)).toFixed(4)}`);
    },
    onEpochEnd(row) {
      bar?.done();
      bar = undefined;
      out.write(`${tableRow(row, names)}\n`);
    },
  };
};
