/**
 * fastai's `CSVLogger`: the epoch table as a CSV file, one line per epoch,
 * flushed to disk as each epoch ends.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as t from 'io-ts';
import { decodeArg, type NoFields, nonEmptyString, optionSet, type OptionSetOf, type OptionsOf, type SameType, typesAgree } from '../config.ts';
import { formatTime } from '../train/format_time.ts';
import type { Observer } from '../train/observers.ts';

/** Options of {@link csvLogger}. */
export interface CsvLoggerOptions {
  /** Append to the file rather than replace it (the header is written again). Default false, as in fastai. */
  readonly append?: boolean;
}

const csvLoggerOptional = { append: t.boolean };
const CsvLoggerOptionSet: OptionSetOf<NoFields, typeof csvLoggerOptional> = optionSet('csvLogger', {}, csvLoggerOptional);
typesAgree<SameType<CsvLoggerOptions, OptionsOf<typeof CsvLoggerOptionSet>>>();

/** A CSV field: quoted when it holds a comma, quote or line break (RFC 4180). */
const field = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/**
 * An observer that writes `epoch,train_loss,valid_loss,<metrics>,time`
 * (fastai's columns, the time as mm:ss) and a line per epoch to `file`,
 * synced to disk after each, so a crash loses at most the epoch in progress.
 * Values are written in full (shortest round-trip), not rounded as the table is.
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, fit } from 'tsnn';
 * import { csvLogger } from 'tsnn/node';
 *
 * const dir = Deno.makeTempDirSync();
 * const ds = { x: new Float32Array(8 * 4), y: new Int32Array(8), shape: [4] };
 * const train = dataLoader(ds, { batchSize: 4 });
 * const { trainState } = await fit(dense({ nf: 2 }), { train, valid: train }, { epochs: 2, opt: adamW(1e-3), observers: [csvLogger(`${dir}/history.csv`)] });
 * console.log(Deno.readTextFileSync(`${dir}/history.csv`).split('\n')[0]); // epoch,train_loss,valid_loss,accuracy,time
 * disposeTrainState(trainState);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const csvLogger = (file: string, options: CsvLoggerOptions = {}): Observer => {
  decodeArg('csvLogger.file', nonEmptyString('a file path'), file);
  const opts = CsvLoggerOptionSet.decode(options);
  let names: readonly string[] = [];
  const write = (cells: readonly string[], flag: 'a' | 'w') => {
    const fd = fs.openSync(file, flag);
    try {
      fs.writeSync(fd, `${cells.map(field).join(',')}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };
  return {
    onTrainBegin(info) {
      names = info.metricNames;
      write(['epoch', 'train_loss', 'valid_loss', ...names, 'time'], opts.append ? 'a' : 'w');
    },
    onEpochEnd(row) {
      write(
        [String(row.epoch), String(row.trainLoss), String(row.validLoss), ...names.map((n) => String(row.metrics[n] ?? NaN)), formatTime(row.seconds)],
        'a',
      );
    },
  };
};
