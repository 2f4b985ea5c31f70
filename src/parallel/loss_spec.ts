/**
 * Losses across threads: a worker rebuilds the caller's loss from a module
 * spec. The library's own losses need none: they are found by identity.
 *
 * @module
 */
import { ConfigError } from '../errors.ts';
import { crossEntropy, type Loss, mse } from '../train/losses.ts';
import type { ModuleSpec } from './protocol.ts';
import { siblingModule } from './sibling.ts';

const LOSSES = siblingModule('../train/losses.ts', import.meta.url).href;
const builtIn = new Map<Loss, ModuleSpec>([[crossEntropy, { module: LOSSES, export: 'crossEntropy' }], [mse, { module: LOSSES, export: 'mse' }]]);

/**
 * The spec of a loss: the one given, or the library's for its own losses.
 *
 * @example
 * ```ts
 * import { lossSpecOf } from './loss_spec.ts';
 * import { crossEntropy } from 'tsnn';
 * console.log(lossSpecOf(crossEntropy).export); // crossEntropy
 * ```
 */
export const lossSpecOf = (loss: Loss, given?: ModuleSpec): ModuleSpec => {
  const spec = given ?? builtIn.get(loss);
  if (!spec) {
    throw new ConfigError([
      "dataParallel.lossSpec: the worker threads cannot rebuild this loss; give lossSpec { module, export, args? } (e.g. { module: 'tsnn' URL, export: 'crossEntropyWith', args: [{ labelSmoothing: 0.1 }] })",
    ]);
  }
  return spec;
};

/**
 * Rebuild a loss from its spec: `module[export](...args)`, or `module[export]` itself when `args` is omitted.
 *
 * @example
 * ```ts
 * import { lossFromSpec } from './loss_spec.ts';
 * const loss = await lossFromSpec({ module: import.meta.resolve('tsnn'), export: 'crossEntropyWith', args: [{ labelSmoothing: 0.1 }] });
 * console.log(typeof loss); // function
 * ```
 */
export const lossFromSpec = async (spec: ModuleSpec): Promise<Loss> => {
  const f = (await import(spec.module))[spec.export];
  if (typeof f !== 'function') throw new ConfigError([`lossSpec: ${spec.module} has no function export '${spec.export}'`]);
  const loss = spec.args ? f(...spec.args) : f;
  if (typeof loss !== 'function') throw new ConfigError([`lossSpec: ${spec.export}(...args) did not return a loss function`]);
  return loss as Loss;
};
