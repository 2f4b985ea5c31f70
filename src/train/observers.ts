/**
 * What `fit` reports, and the observers that print it: fastai's epoch table
 * with a progress bar on a TTY, and a JSON-lines log.
 *
 * @module
 */
import * as fs from 'node:fs';
import cliProgress from 'cli-progress';
import * as t from 'io-ts';
import { decodeArg, guard, type NoFields, nonEmptyString, optionSet, type OptionSetOf, type OptionsOf } from '../config.ts';

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
 * `mm:ss`, as fastai prints times.
 *
 * @example
 * formatTime(75) // '01:15'
 */
export const formatTime = (seconds: number): string => {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
};

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

/** A stream to write the table to: anything with `write(s)`. */
type Out = { write(s: string): unknown; isTTY?: boolean };

const OutCodec: t.Type<Out, Out, unknown> = guard<Out>('a stream { write(s) }', (u) => typeof (u as Out)?.write === 'function');

const epochTableOptional = {
  /** Where to write. Default `process.stdout`. */
  out: OutCodec,
  /** Show a progress bar during each epoch. Default: when `out` is a TTY. */
  progress: t.boolean,
};
const EpochTableOptions: OptionSetOf<NoFields, typeof epochTableOptional> = optionSet('epochTable', {}, epochTableOptional);

/** Options of {@link epochTable}. */
export type EpochTableOptions = OptionsOf<typeof EpochTableOptions>;

const jsonLogOptional = {
  /** Also log every step. Default false. */
  batches: t.boolean,
};
const JsonLogOptions: OptionSetOf<NoFields, typeof jsonLogOptional> = optionSet('jsonLog', {}, jsonLogOptional);

/** Options of {@link jsonLog}. */
export type JsonLogOptions = OptionsOf<typeof JsonLogOptions>;

/**
 * Prints the backend, then fastai's epoch table one row per epoch; on a TTY a
 * progress bar (cli-progress) shows batches done, time left and running loss.
 *
 * @example
 * await fit(model, data, { epochs: 5, opt, observers: [epochTable()] });
 */
export const epochTable = (options: EpochTableOptions = {}): Observer => {
  const opts = EpochTableOptions.decode(options);
  const out: Out = opts.out ?? process.stdout;
  const progress = opts.progress ?? Boolean(out.isTTY);
  let names: readonly string[] = [];
  let bar: cliProgress.SingleBar | undefined;
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
        bar = new cliProgress.SingleBar({
          format: ' {bar} {value}/{total} batches | eta {eta_formatted} | loss {loss}',
          stream: out as NodeJS.WriteStream,
          clearOnComplete: true,
          hideCursor: false,
        }, cliProgress.Presets.shades_classic);
        bar.start(perEpoch, 0, { loss: '-' });
        running = 0;
        seen = 0;
      }
      seen++;
      running = running * 0.98 + info.loss * 0.02;
      bar.update(info.batch + 1, { loss: (running / (1 - 0.98 ** seen)).toFixed(4) });
    },
    onEpochEnd(row) {
      if (bar) {
        bar.stop();
        bar = undefined;
      }
      out.write(`${tableRow(row, names)}\n`);
    },
  };
};

/**
 * Appends one JSON object per epoch (and, with `batches`, per step) to a file.
 *
 * @example
 * observers: [epochTable(), jsonLog('runs/train.jsonl')]
 */
export const jsonLog = (file: string, options: JsonLogOptions = {}): Observer => {
  decodeArg('jsonLog.file', nonEmptyString('a file path'), file);
  const opts = JsonLogOptions.decode(options);
  const write = (o: unknown) => fs.appendFileSync(file, `${JSON.stringify(o)}\n`);
  return {
    onTrainBegin: (info) => write({ type: 'begin', ...info }),
    onBatchEnd: (info) => opts.batches && write({ type: 'batch', ...info }),
    onEpochEnd: (row) => write({ type: 'epoch', ...row }),
  };
};
