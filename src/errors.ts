/**
 * The library's error types. Each names where the problem is (layer path,
 * field or file) and what was expected versus what was found.
 *
 * @module
 */

/**
 * Render a per-example shape with the batch axis as `*`: `[*, 14, 14, 32]`.
 *
 * @example
 * ```ts
 * console.log(showShape([14, 14, 32])); // [*, 14, 14, 32]
 * ```
 */
export const showShape = (shape: readonly (number | null)[], batch = true): string =>
  `[${[...(batch ? ['*'] : []), ...shape.map((d) => (d === null ? '*' : String(d)))].join(', ')}]`;

/**
 * Render a full tensor shape: `[8, 14, 14, 16]`.
 *
 * @example
 * ```ts
 * console.log(showFullShape([8, 14, 14, 16])); // [8, 14, 14, 16]
 * ```
 */
export const showFullShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * A problem inside a layer, withLabel by the layer's kind and its dotted path.
 * Combinators prefix the path as the error travels up.
 *
 * @example
 * ```ts
 * import { LayerError } from 'tsnn';
 *
 * const e = new LayerError('dropout', ['head', '2'], 'training mode needs ctx.key');
 * console.log(e.message); // dropout 'head.2': training mode needs ctx.key
 * console.log(e.under('model').message); // dropout 'model.head.2': training mode needs ctx.key
 * ```
 */
export class LayerError extends Error {
  /** The class name, shown in stack traces. */
  override name = 'LayerError';
  /**
   * An error in layer `layer` at `path`.
   *
   * @param layer The layer's kind (`conv2d`).
   * @param path Its keys from the root of the model (`['blocks', '2']`); empty at the root.
   * @param detail What went wrong.
   */
  constructor(
    readonly layer: string,
    readonly path: readonly string[],
    readonly detail: string,
  ) {
    super(`${layer} '${path.length ? path.join('.') : '<root>'}': ${detail}`);
  }

  /** The same error one level further down a combinator's tree. */
  under(key: string): LayerError {
    const Self = this.constructor as new (layer: string, path: readonly string[], detail: string) => LayerError;
    return new Self(this.layer, [key, ...this.path], this.detail);
  }
}

/**
 * A shape disagreement inside a layer, e.g.
 * `conv2d 'blocks.2.convs.0.conv': expected input [*, *, *, 32], got [8, 14, 14, 16]`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { dense, evalCtx, prngKey, serial, ShapeError } from 'tsnn';
 *
 * const model = serial(dense({ nf: 4 }), dense({ nf: 2 }));
 * const { params, state } = model.init(prngKey(0), [3]);
 * const x = tf.zeros([2, 5]); // 5 features, but the model was built for 3
 * try {
 *   model.apply(params, state, x, evalCtx);
 * } catch (e) {
 *   if (e instanceof ShapeError) console.log(e.layer, e.path); // dense [ "0" ]
 * }
 * x.dispose();
 * ```
 */
export class ShapeError extends LayerError {
  /** The class name, shown in stack traces. */
  override name = 'ShapeError';
}

/**
 * An invalid layer configuration or hyperparameter, e.g.
 * `conv2d.stride: expected positive integer, got 0`.
 *
 * @example
 * ```ts
 * import { ConfigError, conv2d } from 'tsnn';
 *
 * try {
 *   conv2d({ nf: 8, stride: 0 });
 * } catch (e) {
 *   if (e instanceof ConfigError) console.log(e.problems); // [ "conv2d.stride: expected positive integer, got 0" ]
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The class name, shown in stack traces. */
  override readonly name = 'ConfigError';
  /**
   * One error for all the problems found.
   *
   * @param problems One line per bad field, `owner.field: expected X, got Y`; the message joins them with `; `.
   */
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/**
 * Rethrow a LayerError from a child with its key prefixed; other errors pass.
 *
 * @example
 * ```ts
 * import { LayerError } from 'tsnn';
 *
 * try {
 *   underChild('convs', () => {
 *     throw new LayerError('conv2d', ['0'], 'bad input');
 *   });
 * } catch (e) {
 *   console.log((e as Error).message); // conv2d 'convs.0': bad input
 * }
 * ```
 */
export const underChild = <T>(key: string, f: () => T): T => {
  try {
    return f();
  } catch (e) {
    throw e instanceof LayerError ? e.under(key) : e;
  }
};

/** How many problems a message lists before it only counts the rest. */
export const MAX_LISTED = 20;
/** How many characters of one problem a message shows (a tensor name can be megabytes long). */
const MAX_CHARS = 300;

/**
 * The lines a message shows for `problems`: at most {@link MAX_LISTED}, each
 * clipped, and then `…and N more`. A hostile input can give one problem per
 * entry it holds; the message must stay readable (and small) all the same.
 *
 * @example
 * ```ts
 * console.log(listedProblems(['a', 'b', 'c'], 2)); // [ "a", "b", "…and 1 more" ]
 * ```
 */
export const listedProblems = (problems: readonly string[], max = MAX_LISTED): string[] => {
  const clip = (p: string) => (p.length > MAX_CHARS ? `${p.slice(0, MAX_CHARS)}… (${p.length} characters)` : p);
  const shown = problems.slice(0, max).map(clip);
  return problems.length > max ? [...shown, `…and ${problems.length - max} more`] : shown;
};
