/**
 * fastai's `ClassificationInterpretation`, from predictions: the confusion
 * matrix, `most_confused` and `top_losses`, and the confusion matrix as SVG.
 *
 * @module
 */
import { ConfigError } from '../errors.ts';
import type { Predictions } from './predict.ts';

/** `counts[actual][predicted]`: rows are the true classes, columns the predicted ones, as fastai's. */
export type ConfusionMatrix = readonly (readonly number[])[];

const checkLabels = (owner: string, p: Predictions, actual: ArrayLike<number>) => {
  if (actual.length !== p.classes.length) throw new ConfigError([`${owner}.actual: expected ${p.classes.length} labels, got ${actual.length}`]);
  for (let i = 0; i < actual.length; i++) {
    if (!(Number.isInteger(actual[i]) && actual[i] >= 0 && actual[i] < p.nClasses)) {
      throw new ConfigError([`${owner}.actual[${i}]: expected a class in 0..${p.nClasses - 1}, got ${actual[i]}`]);
    }
  }
};

/**
 * fastai's `confusion_matrix()`: how often each class (row) was predicted as each class (column).
 *
 * @example
 * ```ts
 * import { confusionMatrix } from 'tsnn';
 *
 * const p = { probs: new Float32Array([0.9, 0.1, 0.2, 0.8, 0.6, 0.4]), classes: Int32Array.from([0, 1, 0]), nClasses: 2 };
 * console.log(confusionMatrix(p, [0, 1, 1])); // [ [ 1, 0 ], [ 1, 1 ] ]
 * ```
 */
export const confusionMatrix = (p: Predictions, actual: ArrayLike<number>): number[][] => {
  checkLabels('confusionMatrix', p, actual);
  const cm = Array.from({ length: p.nClasses }, () => new Array(p.nClasses).fill(0));
  for (let i = 0; i < actual.length; i++) cm[actual[i]][p.classes[i]]++;
  return cm;
};

/**
 * fastai's `most_confused(min_val)`: the off-diagonal entries of the
 * confusion matrix with at least `minVal` examples, as `[actual, predicted,
 * count]` (class names where given), largest count first (ties in row order).
 *
 * @example
 * ```ts
 * import { mostConfused } from 'tsnn';
 *
 * console.log(mostConfused([[5, 2, 0], [3, 4, 1], [0, 0, 6]], ['cat', 'dog', 'fox'])); // [ [ "dog", "cat", 3 ], [ "cat", "dog", 2 ], [ "dog", "fox", 1 ] ]
 * ```
 */
export const mostConfused = (cm: ConfusionMatrix, classes?: readonly string[], minVal = 1): [string, string, number][] => {
  const name = (k: number) => classes?.[k] ?? String(k);
  const out: [string, string, number][] = [];
  cm.forEach((row, i) => row.forEach((n, j) => i !== j && n >= minVal && out.push([name(i), name(j), n])));
  return out.sort((a, b) => b[2] - a[2]);
};

/** One example of {@link topLosses}. */
export interface TopLoss {
  /** Its index in the inputs. */
  readonly index: number;
  /** Cross-entropy of its true class: `-log probs[actual]`. */
  readonly loss: number;
  /** The predicted class. */
  readonly predicted: number;
  /** The true class. */
  readonly actual: number;
  /** The predicted class's probability (fastai's title shows `raw.max()`). */
  readonly probability: number;
}

/**
 * fastai's `top_losses(k)`: the `k` examples with the largest loss, largest first.
 *
 * @example
 * ```ts
 * import { topLosses } from 'tsnn';
 *
 * const p = { probs: new Float32Array([0.9, 0.1, 0.2, 0.8, 0.6, 0.4]), classes: Int32Array.from([0, 1, 0]), nClasses: 2 };
 * console.log(topLosses(p, [0, 1, 1], 1).map((t) => [t.index, t.predicted, t.actual, t.loss.toFixed(3)])); // [ [ 2, 0, 1, "0.916" ] ]
 * ```
 */
export const topLosses = (p: Predictions, actual: ArrayLike<number>, k = actual.length): TopLoss[] => {
  checkLabels('topLosses', p, actual);
  const all = Array.from({ length: actual.length }, (_, i): TopLoss => ({
    index: i,
    loss: -Math.log(p.probs[i * p.nClasses + actual[i]]),
    predicted: p.classes[i],
    actual: actual[i],
    probability: p.probs[i * p.nClasses + p.classes[i]],
  }));
  return all.sort((a, b) => b.loss - a.loss || a.index - b.index).slice(0, k);
};

const escape = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/**
 * The confusion matrix as fastai plots it: actual classes down, predicted
 * across, each cell's count written in it, shaded by count (white text on
 * cells above half the largest).
 *
 * @example
 * ```ts
 * import { confusionMatrixSvg } from 'tsnn';
 *
 * const svg = confusionMatrixSvg([[5, 2], [1, 7]], ['cat', 'dog']);
 * console.log(svg.startsWith('<svg'), svg.includes('>Predicted<')); // true true
 * ```
 */
export const confusionMatrixSvg = (cm: ConfusionMatrix, classes?: readonly string[], title = 'Confusion matrix'): string => {
  const n = cm.length, cell = Math.max(28, Math.min(60, Math.floor(560 / Math.max(1, n))));
  const name = (k: number) => escape(classes?.[k] ?? String(k));
  const label = 110, top = 40, W = label + n * cell + 20, H = top + n * cell + label + 10;
  const max = Math.max(1, ...cm.flat());
  const cells: string[] = [];
  cm.forEach((row, i) =>
    row.forEach((v, j) => {
      const t = v / max, x = label + j * cell, y = top + i * cell;
      // Matplotlib's "Blues", from near white to dark blue.
      const [r, g, b] = [247 - t * (247 - 8), 251 - t * (251 - 48), 255 - t * (255 - 107)].map(Math.round);
      cells.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="rgb(${r},${g},${b})" stroke="#fff"/>` +
          `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" font-size="11" text-anchor="middle" fill="${v > max / 2 ? 'white' : 'black'}">${v}</text>`,
      );
    })
  );
  const rows = cm.map((_, i) => `<text x="${label - 6}" y="${top + i * cell + cell / 2 + 4}" font-size="11" text-anchor="end">${name(i)}</text>`);
  const cols = cm.map((_, j) => {
    const x = label + j * cell + cell / 2 + 4, y = top + n * cell + 8;
    return `<text x="${x}" y="${y}" font-size="11" text-anchor="end" transform="rotate(-90 ${x} ${y})">${name(j)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${W / 2}" y="22" font-size="14" text-anchor="middle">${escape(title)}</text>` +
    cells.join('') + rows.join('') + cols.join('') +
    `<text x="14" y="${top + (n * cell) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${top + (n * cell) / 2})">Actual</text>` +
    `<text x="${label + (n * cell) / 2}" y="${H - 6}" font-size="12" text-anchor="middle">Predicted</text></svg>\n`;
};

/**
 * fastai's `plot_top_losses`: each image with `predicted/actual / loss /
 * probability` above it, in a grid, titled `Prediction/Actual/Loss/Probability`.
 * `x` holds the raw images (`[n, h, w, c]` bytes, or floats in [0, 1]); grey
 * for 1 channel, RGB for 3.
 *
 * @example
 * ```ts
 * import { topLossesSvg } from 'tsnn';
 *
 * const x = new Uint8Array(2 * 2 * 2).fill(128);
 * const top = [{ index: 1, loss: 2.3, predicted: 0, actual: 1, probability: 0.9 }];
 * console.log(topLossesSvg({ x, shape: [2, 2, 1] }, top, ['cat', 'dog']).includes('cat/dog / 2.30 / 0.90')); // true
 * ```
 */
export const topLossesSvg = (
  images: { readonly x: Uint8Array | Float32Array; readonly shape: readonly number[] },
  top: readonly TopLoss[],
  classes?: readonly string[],
  columns = 3,
): string => {
  const [h, w, c = 1] = images.shape, per = h * w * c;
  const px = Math.max(1, Math.floor(160 / Math.max(h, w))), cellW = Math.max(w * px, 230), cellH = h * px + 24;
  const name = (k: number) => escape(classes?.[k] ?? String(k));
  const rows = Math.ceil(top.length / columns), W = columns * cellW + 20, H = 36 + rows * (cellH + 10);
  const byte = (v: number) => Math.round(images.x instanceof Uint8Array ? v : Math.min(1, Math.max(0, v)) * 255);
  const parts = top.map((t, k) => {
    const ox = 10 + (k % columns) * cellW + (cellW - w * px) / 2, oy = 36 + Math.floor(k / columns) * (cellH + 10);
    const pixels: string[] = [];
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const at = t.index * per + (i * w + j) * c;
        const [r, g, b] = c === 3 ? [0, 1, 2].map((d) => byte(images.x[at + d])) : [0, 0, 0].map(() => byte(images.x[at]));
        pixels.push(`<rect x="${ox + j * px}" y="${oy + 20 + i * px}" width="${px}" height="${px}" fill="rgb(${r},${g},${b})"/>`);
      }
    }
    return `<text x="${ox + (w * px) / 2}" y="${oy + 14}" font-size="11" text-anchor="middle">${name(t.predicted)}/${name(t.actual)} / ${t.loss.toFixed(2)} / ${
      t.probability.toFixed(2)
    }</text>${pixels.join('')}`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" shape-rendering="crispEdges">` +
    `<rect width="100%" height="100%" fill="white"/><text x="${W / 2}" y="22" font-size="14" text-anchor="middle">Prediction/Actual/Loss/Probability</text>` +
    `${parts.join('')}</svg>\n`;
};
