/**
 * Times as fastai prints them.
 *
 * @module
 */

/**
 * `mm:ss`, as fastai prints times.
 *
 * @example
 * ```ts
 * import { formatTime } from './format_time.ts';
 *
 * console.log(formatTime(75), formatTime(3725)); // 01:15 1:02:05
 * ```
 */
export const formatTime = (seconds: number): string => {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
};
