/**
 * What `fit` reports, and the observer that prints it: fastai's epoch table
 * with a progress bar on a TTY. (The JSON-lines log, which writes a file, is
 * `jsonLog` in `tsnn/node`.)
 *
 * @module
 */
import * as t from 'io-ts';
import { type NoFields, optionSet, type OptionSetOf, type OptionsOf, type SameType, typesAgree } from '../config.ts';
import { formatTime } from './format_time.ts';
import { type ProgressBar, progressBar, type TextOut, TextOutCodec } from './progress_bar.ts';

/** Reported once, before the first step. */
export interface TrainBegin {
  /** The epoch count training runs to (`fit`'s `epochs`). */
  readonly epochs: number;
  /** The first epoch run, 0-based: above 0 when resuming from a saved state. */
  readonly startEpoch: number;
  /** Batches in one pass over the training data. */
  readonly batchesPerEpoch: number;
  /** The metric names, in the order of the table's columns. */
  readonly metricNames: readonly string[];
  /** The tfjs backend in use, and why it was chosen. */
  readonly backend: string;
}

/** Reported after every step. */
export interface BatchEnd {
  /** The epoch, 0-based. */
  readonly epoch: number;
  /** The batch within the epoch, 0-based. */
  readonly batch: number;
  /** The train state's step counter after this step. */
  readonly step: number;
  /** This batch's training loss. */
  readonly loss: number;
}

/** One row of the epoch table. `validLoss` and metrics are NaN without validation data. */
export interface EpochRow {
  /** The epoch, 0-based. */
  readonly epoch: number;
  /** Mean training loss over the epoch's batches, weighted by batch size. */
  readonly trainLoss: number;
  /** Mean loss on the validation data after the epoch. */
  readonly validLoss: number;
  /** Each metric on the validation data, by name. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Wall time of the epoch, validation included. */
  readonly seconds: number;
}

/** Pure callbacks that `fit` calls; they see numbers, never tensors. */
export interface Observer {
  /** Called once, before the first step. */
  onTrainBegin?(info: TrainBegin): void;
  /** Called after every training step. */
  onBatchEnd?(info: BatchEnd): void;
  /** Called after each validation batch: `batch` of `batches` done (1-based), in `epoch`. */
  onValidBatchEnd?(info: { readonly epoch: number; readonly batch: number; readonly batches: number }): void;
  /** Called after each epoch's validation. */
  onEpochEnd?(row: EpochRow): void;
  /** Called once, after the last epoch, with every row, and why training stopped early if a callback stopped it. */
  onTrainEnd?(history: readonly EpochRow[], stopped?: string): void;
}

/**
 * Format rows as fastai's aligned table: `epoch  train_loss  valid_loss  accuracy  time`.
 *
 * @example
 * ```ts
 * import { formatEpochTable } from 'tsnn';
 *
 * const history = [{ epoch: 0, trainLoss: 0.52, validLoss: 0.41, metrics: { accuracy: 0.87 }, seconds: 75 }];
 * console.log(formatEpochTable(history, ['accuracy']));
 * // epoch     train_loss  valid_loss  accuracy  time
 * // 0         0.520000    0.410000    0.870000  01:15
 * ```
 */
export const formatEpochTable = (rows: readonly EpochRow[], metricNames: readonly string[]): string =>
  [tableHeader(metricNames), ...rows.map((r) => tableRow(r, metricNames))].join('\n');

const columns = (names: readonly string[]) => ['epoch', 'train_loss', 'valid_loss', ...names, 'time'];
const pad = (cells: string[], names: readonly string[]) => cells.map((c, i) => c.padEnd(Math.max(columns(names)[i].length, 8))).join('  ').trimEnd();
const tableHeader = (names: readonly string[]) => pad(columns(names), names);
const tableRow = (r: EpochRow, names: readonly string[]) =>
  pad([String(r.epoch), r.trainLoss.toFixed(6), r.validLoss.toFixed(6), ...names.map((n) => (r.metrics[n] ?? NaN).toFixed(6)), formatTime(r.seconds)], names);

declare const process: { stdout?: TextOut } | undefined;

/**
 * Node's and Deno's stdout where there is one; elsewhere (a browser) lines go
 * to `console.log`, one call per line.
 */
export const standardOut = (): TextOut => {
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

/** The backend line last written to each output: a run of several fits names its backend once. */
const announced = new WeakMap<TextOut, string>();

/** Options of {@link epochTable}. */
export interface EpochTableOptions {
  /** Where to write. Default `process.stdout` (in a browser, `console.log`). */
  readonly out?: TextOut;
  /** Show a progress bar during each epoch. Default: when `out` is a TTY. */
  readonly progress?: boolean;
}

const epochTableOptional = { out: TextOutCodec, progress: t.boolean };
const EpochTableOptionSet: OptionSetOf<NoFields, typeof epochTableOptional> = optionSet('epochTable', {}, epochTableOptional);
typesAgree<SameType<EpochTableOptions, OptionsOf<typeof EpochTableOptionSet>>>();

/**
 * Prints the backend (once per output: a run of several fits on one backend
 * names it above the first table only), then fastai's epoch table one row per
 * epoch; on a TTY a progress bar shows batches done, time spent and left, and
 * the smoothed loss. A fit stopped early ends with the reason.
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, epochTable, fit } from 'tsnn';
 *
 * let text = '';
 * const out = { write: (s: string) => (text += s) }; // default: process.stdout
 * const ds = { x: new Float32Array(8 * 4), y: new Int32Array(8), shape: [4] };
 * const { trainState } = await fit(dense({ nf: 2 }), { train: dataLoader(ds, { batchSize: 4 }) }, { epochs: 1, opt: adamW(1e-3), observers: [epochTable({ out })] });
 * console.log(text.split('\n')[1]); // epoch     train_loss  valid_loss  accuracy  time
 * disposeTrainState(trainState);
 * ```
 */
export const epochTable = (options: EpochTableOptions = {}): Observer => {
  const opts = EpochTableOptionSet.decode(options);
  const out: TextOut = opts.out ?? standardOut();
  const progress = opts.progress ?? Boolean(out.isTTY);
  let names: readonly string[] = [];
  let bar: ProgressBar | undefined;
  let running = 0, seen = 0, perEpoch = 0;
  return {
    onTrainBegin(info) {
      names = info.metricNames;
      perEpoch = info.batchesPerEpoch;
      const line = `backend: ${info.backend}\n`;
      out.write(`${announced.get(out) === line ? '' : line}${tableHeader(names)}\n`);
      announced.set(out, line);
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
    onValidBatchEnd(info) {
      if (!progress) return;
      if (info.batch === 1) {
        bar?.done();
        bar = progressBar({ write: (s) => out.write(s), isTTY: true, columns: out.columns }, info.batches);
      }
      bar?.update(info.batch, 'validating');
    },
    onEpochEnd(row) {
      bar?.done();
      bar = undefined;
      out.write(`${tableRow(row, names)}\n`);
    },
    // A run stopped mid-epoch (maxSteps) has no epoch end: erase the bar here too.
    onTrainEnd(_history, stopped) {
      bar?.done();
      bar = undefined;
      if (stopped) out.write(`${stopped}\n`);
    },
  };
};
