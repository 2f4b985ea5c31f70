/**
 * A plot as both pictures the example scripts write: `<base>.svg` and
 * `<base>.png` (the PNG through `savePlot`, which needs the optional
 * `@resvg/resvg-js`).
 *
 * @module
 */
import { savePlot } from '../node.ts';

/**
 * Write `svg` to `<base>.svg` and `<base>.png`.
 *
 * @example
 * ```ts
 * await savePlots('runs/loss_resnet', lossPlotSvg(rec));
 * ```
 */
export const savePlots = async (base: string, svg: string): Promise<void> => {
  await savePlot(`${base}.svg`, svg);
  await savePlot(`${base}.png`, svg);
};
