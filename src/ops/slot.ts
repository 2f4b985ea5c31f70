/**
 * The seam between the math and the engine. An op in `ops/` is written once
 * as plain tfjs math; the engine (`backend/`) may install a faster
 * implementation in the op's slot, which the op then offers each call. An
 * implementation returns `undefined` to decline a call it cannot run (another
 * backend, another dtype), and the op runs its math instead.
 *
 * @module
 */

/** Where the engine plugs a faster implementation of one op. */
export interface Slot<I> {
  /** The op's name, for messages and summaries. */
  readonly name: string;
  /** The installed implementation, if any. */
  readonly impl: I | undefined;
  /** Install an implementation (or `undefined` to remove it); the last install wins. */
  install(impl: I | undefined): void;
}

/**
 * A new, empty slot.
 *
 * @example
 * ```ts
 * import { slot } from 'tsnn/backend';
 * const double = slot<(x: number) => number | undefined>('double');
 * const run = (x: number) => double.impl?.(x) ?? 2 * x;
 * double.install((x) => x + x);
 * console.log(run(3)); // 6
 * ```
 */
export const slot = <I>(name: string): Slot<I> => {
  let impl: I | undefined;
  return {
    name,
    get impl() {
      return impl;
    },
    install(i) {
      impl = i;
    },
  };
};
