/**
 * An observer that appends what `fit` reports to a JSON-lines file.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as t from 'io-ts';
import { decodeArg, type NoFields, nonEmptyString, optionSet, type OptionSetOf, type OptionsOf, type SameType, typesAgree } from '../config.ts';
import type { Observer } from '../train/observers.ts';

/** Options of {@link jsonLog}. */
export interface JsonLogOptions {
  /** Also log every step. Default false. */
  readonly batches?: boolean;
}

const jsonLogOptional = { batches: t.boolean };
const JsonLogOptionSet: OptionSetOf<NoFields, typeof jsonLogOptional> = optionSet('jsonLog', {}, jsonLogOptional);
typesAgree<SameType<JsonLogOptions, OptionsOf<typeof JsonLogOptionSet>>>();

/**
 * Appends one JSON object per epoch (and, with `batches`, per step) to a file.
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, fit } from 'tsnn';
 * import { jsonLog } from 'tsnn/node';
 *
 * const dir = Deno.makeTempDirSync();
 * const ds = { x: new Float32Array(8 * 4), y: new Int32Array(8), shape: [4] };
 * const observers = [jsonLog(`${dir}/train.jsonl`, { batches: true })]; // with epochTable() too, to see the table
 * const { trainState } = await fit(dense({ nf: 2 }), { train: dataLoader(ds, { batchSize: 4 }) }, { epochs: 1, opt: adamW(1e-3), observers });
 * const lines = Deno.readTextFileSync(`${dir}/train.jsonl`).trim().split('\n').map((l) => JSON.parse(l));
 * console.log(lines.map((l) => l.type)); // [ "begin", "batch", "batch", "epoch" ]
 * disposeTrainState(trainState);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const jsonLog = (file: string, options: JsonLogOptions = {}): Observer => {
  decodeArg('jsonLog.file', nonEmptyString('a file path'), file);
  const opts = JsonLogOptionSet.decode(options);
  const write = (o: unknown) => fs.appendFileSync(file, `${JSON.stringify(o)}\n`);
  return {
    onTrainBegin: (info) => write({ type: 'begin', ...info }),
    onBatchEnd: (info) => opts.batches && write({ type: 'batch', ...info }),
    onEpochEnd: (row) => write({ type: 'epoch', ...row }),
  };
};
