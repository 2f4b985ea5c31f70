/**
 * The engine training runs on when the user has chosen none. tfjs starts on
 * its pure-JS cpu backend, about 30× slower than the library's wasm engine
 * on both cores; `fit`, `fitOneCycle`, `lrFind` and `trainStep` call
 * {@link ensureEngine} first, which runs the chooser the entry point
 * provided (`mod.ts` provides `selectBackend()`), so that the loop never
 * imports the engine. A user who chose the cpu backend is told once that it
 * is slow.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';
import { backendChosen, backendInfo, backendNotice } from './backend_info.ts';

let chooser: (() => Promise<unknown>) | undefined;
let choosing: Promise<void> | undefined;
let toldSlow = false;

/**
 * Provide how to choose the engine when training starts and none was chosen
 * (the entry point does, with `selectBackend`). Nothing runs until then.
 *
 * @example
 * ```ts
 * import { provideDefaultEngine } from './engine_choice.ts';
 * provideDefaultEngine(async () => {}); // a chooser that leaves tfjs's backend as it is
 * ```
 */
export const provideDefaultEngine = (choose: () => Promise<unknown>): void => {
  chooser = choose;
};

/** True when the user has chosen no engine: no `selectBackend` call, and tfjs on its cpu default (or not started). */
const unchosen = (): boolean => {
  if (backendChosen()) return false;
  const name = (tf.engine() as unknown as { backendName: string | null }).backendName;
  return name === null || name === 'cpu';
};

/**
 * Before training: choose the fastest engine if none was chosen, or say once
 * (through `warn`: by default where `selectBackend`'s own `warn` sent its
 * lines) that the one chosen is the slow cpu backend. `who` names
 * the caller in that line.
 *
 * @example
 * ```ts
 * import { ensureEngine } from './engine_choice.ts';
 * await ensureEngine('fit', () => {});
 * ```
 */
export const ensureEngine = async (who: string, warn: (line: string) => void = backendNotice): Promise<void> => {
  if (chooser && unchosen()) {
    choosing ??= chooser().then(() => {}, (e) => {
      choosing = undefined; // a later call may try again
      throw e;
    });
    await choosing;
  }
  const info = backendInfo();
  if (info.name === 'cpu' && info.reason.startsWith('requested') && !toldSlow) {
    toldSlow = true;
    warn(
      `tsnn: ${who} trains on tfjs's pure-JS cpu backend (${info.reason}), about 30× slower than wasm; leave the backend unset, or call selectBackend() without one, for the fastest engine here.`,
    );
  }
};
