/**
 * fastai's `Recorder`: every batch's loss (raw and smoothed as fastai's
 * `AvgSmoothLoss` does) and every epoch's row, for `lossPlotSvg`.
 *
 * @module
 */
import type { EpochRow, Observer } from './observers.ts';
import { niceTicks, plotFrame } from './svg_axes.ts';

/** What a {@link recorder} has seen so far. */
export interface Recorded {
  /** Each training batch's loss, in order. */
  readonly losses: readonly number[];
  /** fastai's `AvgSmoothLoss` (β = 0.98, debiased) after each batch. */
  readonly smoothLosses: readonly number[];
  /** Each epoch's row. */
  readonly epochs: readonly EpochRow[];
  /** The batch count at each epoch's end (where its validation loss is drawn). */
  readonly epochEnds: readonly number[];
}

/**
 * An observer that records the losses of a run (several fits append).
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, fit, recorder } from 'tsnn';
 *
 * const ds = { x: new Float32Array(8 * 4), y: new Int32Array(8), shape: [4] };
 * const train = dataLoader(ds, { batchSize: 4 }), rec = recorder();
 * const { trainState } = await fit(dense({ nf: 2 }), { train, valid: train }, { epochs: 2, opt: adamW(1e-3), observers: [rec] });
 * console.log(rec.losses.length, rec.epochs.length, rec.epochEnds); // 4 2 [ 2, 4 ]
 * disposeTrainState(trainState);
 * ```
 */
export const recorder = (beta = 0.98): Observer & Recorded => {
  const losses: number[] = [], smoothLosses: number[] = [], epochs: EpochRow[] = [], epochEnds: number[] = [];
  let avg = 0, n = 0;
  return {
    losses,
    smoothLosses,
    epochs,
    epochEnds,
    onBatchEnd(info) {
      losses.push(info.loss);
      n++;
      avg = beta * avg + (1 - beta) * info.loss;
      smoothLosses.push(avg / (1 - beta ** n));
    },
    onEpochEnd(row) {
      epochs.push(row);
      epochEnds.push(losses.length);
    },
  };
};

/**
 * fastai's `plot_loss`: the smoothed training loss per batch, and the
 * validation loss at the end of each epoch, on labelled, ticked axes.
 *
 * @example
 * ```ts
 * import { lossPlotSvg } from 'tsnn';
 *
 * const svg = lossPlotSvg({ losses: [1, 0.8, 0.7, 0.6], smoothLosses: [1, 0.9, 0.83, 0.77], epochs: [], epochEnds: [2, 4] });
 * console.log(svg.includes('>train<'), svg.includes('>batches processed<')); // true true
 * ```
 */
export const lossPlotSvg = (r: Recorded): string => {
  const valid = r.epochs.map((row, i) => [r.epochEnds[i], row.validLoss] as const).filter(([, v]) => Number.isFinite(v));
  const ys = [...r.smoothLosses.filter(Number.isFinite), ...valid.map(([, v]) => v)];
  const frame = plotFrame({
    x: { ticks: niceTicks(0, Math.max(1, r.smoothLosses.length), 6), label: 'batches processed' },
    y: { ticks: niceTicks(Math.min(...ys, Infinity) === Infinity ? 0 : Math.min(...ys), Math.max(...ys, 1e-9), 6), label: 'loss' },
  });
  const train = r.smoothLosses.map((l, i) => (Number.isFinite(l) ? `${frame.x(i + 1).toFixed(1)},${frame.y(l).toFixed(1)}` : '')).filter(Boolean);
  const line = train.length ? `<polyline points="${train.join(' ')}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>` : '';
  const validLine = valid.length
    ? `<polyline points="${
      valid.map(([x, v]) => `${frame.x(x).toFixed(1)},${frame.y(v).toFixed(1)}`).join(' ')
    }" fill="none" stroke="#ff7f0e" stroke-width="2"/>` +
      valid.map(([x, v]) => `<circle cx="${frame.x(x).toFixed(1)}" cy="${frame.y(v).toFixed(1)}" r="3.5" fill="#ff7f0e"/>`).join('')
    : '';
  const legend = `<line x1="${frame.right - 110}" y1="${frame.top + 12}" x2="${frame.right - 90}" y2="${frame.top + 12}" stroke="#1f77b4" stroke-width="2"/>` +
    `<text x="${frame.right - 84}" y="${frame.top + 16}" font-size="12">train</text>` +
    `<line x1="${frame.right - 110}" y1="${frame.top + 30}" x2="${frame.right - 90}" y2="${frame.top + 30}" stroke="#ff7f0e" stroke-width="2"/>` +
    `<text x="${frame.right - 84}" y="${frame.top + 34}" font-size="12">valid</text>`;
  return frame.svg(line + validLine + legend);
};
