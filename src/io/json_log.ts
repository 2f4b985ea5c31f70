/**
 * An observer that appends what `fit` reports to a JSON-lines file.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as t from 'io-ts';
import { decodeArg, type NoFields, nonEmptyString, optionSet, type OptionSetOf, type OptionsOf } from '../config.ts';
import type { Observer } from '../train/observers.ts';

const jsonLogOptional = {
  /** Also log every step. Default false. */
  batches: t.boolean,
};
const JsonLogOptions: OptionSetOf<NoFields, typeof jsonLogOptional> = optionSet('jsonLog', {}, jsonLogOptional);

/** Options of {@link jsonLog}. */
export type JsonLogOptions = OptionsOf<typeof JsonLogOptions>;

/**
 * Appends one JSON object per epoch (and, with `batches`, per step) to a file.
 *
 * @example
 * ```ts
 * import { jsonLog } from './json_log.ts';
 *
 * const observer = jsonLog('/tmp/train.jsonl', { batches: true }); // observers: [epochTable(), observer]
 * ```
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
