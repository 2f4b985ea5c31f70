/**
 * How an IO error shows a list of problems: the first few, each clipped, then
 * a count of the rest. A hostile file can make a decoder find one problem per
 * header entry; the message must stay readable (and small) all the same.
 *
 * @module
 */

/** How many problems a message lists before it only counts the rest. */
export const MAX_LISTED = 20;
/** How many characters of one problem a message shows (a tensor name can be megabytes long). */
const MAX_CHARS = 300;

/**
 * The lines a message shows for `problems`: at most {@link MAX_LISTED}, each
 * clipped, and then `…and N more`.
 *
 * @example
 * ```ts
 * import { listedProblems } from './problem_list.ts';
 * listedProblems(['a', 'b', 'c'], 2); // ['a', 'b', '…and 1 more']
 * ```
 */
export const listedProblems = (problems: readonly string[], max = MAX_LISTED): string[] => {
  const clip = (p: string) => (p.length > MAX_CHARS ? `${p.slice(0, MAX_CHARS)}… (${p.length} characters)` : p);
  const shown = problems.slice(0, max).map(clip);
  return problems.length > max ? [...shown, `…and ${problems.length - max} more`] : shown;
};
