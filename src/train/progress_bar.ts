/**
 * A one-line progress bar, as fastai's: `|███-----| 40/100 00:12<00:18 loss 0.4213`,
 * redrawn in place on a terminal. It writes only to the stream it is given and
 * needs no Node module, so it runs in a browser too (where nothing is a TTY,
 * and the bar is not drawn).
 *
 * @module
 */
import type * as t from 'io-ts';
import { decodeArg, func, guard, NonNegativeInt } from '../config.ts';
import { formatTime } from './format_time.ts';

/** A stream to write to: anything with `write(s)`, such as `process.stdout`. */
export interface TextOut {
  /** Write `s` as is (it carries its own newlines). */
  write(s: string): unknown;
  /** True on a terminal: the bar is drawn only there. */
  readonly isTTY?: boolean;
  /** The terminal's width in characters, when known. */
  readonly columns?: number;
}

/** The check of a {@link TextOut}, for option sets that take one. */
export const TextOutCodec: t.Type<TextOut, TextOut, unknown> = guard<TextOut>('a stream { write(s) }', (u) => typeof (u as TextOut)?.write === 'function');

/** A bar in progress: `update` redraws it, `done` erases it. */
export interface ProgressBar {
  /** Redraw with `done` items of the total finished, and an optional comment after the times. */
  update(done: number, comment?: string): void;
  /** Erase the bar, leaving the line empty. */
  done(): void;
}

const WIDTH = 30;
// Redraw at most this often: a terminal write per step would cost more than small steps.
const REDRAW_MS = 100;

/**
 * A bar over `total` items, drawn on `out` when it is a TTY; elsewhere every
 * call does nothing, so logs hold only the rows around it.
 *
 * @example
 * ```ts
 * import { progressBar } from './progress_bar.ts';
 *
 * let drawn = '', ms = 0;
 * // A clock of our own (default performance.now), so the times shown are known: 10 s per batch.
 * const bar = progressBar({ write: (s: string) => (drawn = s), isTTY: true }, 3, () => ms);
 * ms += 10_000;
 * bar.update(1, 'loss 0.5000');
 * console.log(JSON.stringify(drawn)); // "\r|██████████--------------------| 1/3 00:10<00:20 loss 0.5000"
 * bar.done();
 * ```
 */
export const progressBar = (out: TextOut, total: number, now: () => number = () => performance.now()): ProgressBar => {
  decodeArg('progressBar.out', TextOutCodec, out);
  decodeArg('progressBar.total', NonNegativeInt, total);
  decodeArg('progressBar.now', func<() => number>('a clock () => milliseconds'), now);
  if (!out.isTTY) return { update: () => {}, done: () => {} };
  const start = now();
  let last = -Infinity, drawn = 0;
  const draw = (done: number, comment: string) => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * WIDTH);
    const elapsed = (now() - start) / 1000;
    const left = done > 0 ? elapsed * (total - done) / done : NaN;
    const line = `|${'█'.repeat(filled)}${'-'.repeat(WIDTH - filled)}| ${done}/${total} ${formatTime(elapsed)}<${
      Number.isFinite(left) ? formatTime(left) : '--:--'
    }${comment ? ` ${comment}` : ''}`;
    const text = line.slice(0, Math.max(WIDTH, (out.columns ?? 120) - 1));
    out.write(`\r${text.padEnd(drawn)}`);
    drawn = text.length;
  };
  return {
    update(done, comment = '') {
      decodeArg('progressBar.update.done', NonNegativeInt, done);
      done = Math.min(done, total);
      const t = now();
      if (done < total && t - last < REDRAW_MS) return;
      last = t;
      draw(done, comment);
    },
    done() {
      if (drawn > 0) out.write(`\r${' '.repeat(drawn)}\r`);
      drawn = 0;
    },
  };
};
