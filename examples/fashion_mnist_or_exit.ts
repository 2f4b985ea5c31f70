/**
 * Fashion-MNIST for the example scripts: the data, or, when it cannot be
 * found or fetched, the loader's message (where it looked, and how to get
 * the files) on stderr once, with no stack trace, and exit code 1.
 *
 * @module
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import { type FashionMnist, loadFashionMnist } from '../node.ts';

/**
 * The dataset, or exit with the reason.
 *
 * @example
 * ```ts
 * const { train, test } = await fashionMnistOrExit();
 * ```
 */
export const fashionMnistOrExit = async (): Promise<FashionMnist> => {
  const r = await loadFashionMnist();
  if (isLeft(r)) {
    console.error(`error: ${r.left.message}`);
    process.exit(1);
  }
  return r.right;
};
