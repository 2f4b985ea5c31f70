/**
 * Axes for the library's SVG plots: "nice" tick values (1, 2 or 5 times a
 * power of ten) and a frame with ticks, tick labels and axis labels.
 *
 * @module
 */

/**
 * About `count` round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k.
 *
 * @example
 * ```ts
 * import { niceTicks } from './svg_axes.ts';
 *
 * console.log(niceTicks(0.23, 1.87, 5)); // [ 0, 0.5, 1, 1.5, 2 ]
 * ```
 */
export const niceTicks = (lo: number, hi: number, count: number): number[] => {
  if (!(hi > lo)) hi = lo + (Math.abs(lo) || 1);
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const first = Math.floor(lo / step) * step, out: number[] = [];
  for (let v = first; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  if (out[out.length - 1] < hi) out.push(+(out[out.length - 1] + step).toPrecision(12));
  return out;
};

/** An axis: its tick values (the first and last are its ends) and its label. */
export interface Axis {
  readonly ticks: readonly number[];
  readonly label: string;
  /** Formats a tick value. Default: up to 4 significant digits. */
  readonly format?: (v: number) => string;
}

/** A plot's frame: scales from data to pixels, its edges, and `svg(content)` for the whole picture. */
export interface Frame {
  x(v: number): number;
  y(v: number): number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
  svg(content: string): string;
}

/**
 * A 640×400 frame with ticked, labelled axes.
 *
 * @example
 * ```ts
 * import { plotFrame } from './svg_axes.ts';
 *
 * const f = plotFrame({ x: { ticks: [0, 10], label: 'x' }, y: { ticks: [0, 1], label: 'y' } });
 * console.log(f.x(0) === f.left, f.y(1) === f.top); // true true
 * ```
 */
export const plotFrame = (axes: { readonly x: Axis; readonly y: Axis }, size: readonly [number, number] = [640, 400]): Frame => {
  const [W, H] = size, left = 64, right = W - 20, top = 20, bottom = H - 48;
  const [x0, x1] = [axes.x.ticks[0], axes.x.ticks[axes.x.ticks.length - 1]];
  const [y0, y1] = [axes.y.ticks[0], axes.y.ticks[axes.y.ticks.length - 1]];
  const x = (v: number) => left + ((v - x0) / (x1 - x0 || 1)) * (right - left);
  const y = (v: number) => bottom - ((v - y0) / (y1 - y0 || 1)) * (bottom - top);
  const fmt = (a: Axis) => a.format ?? ((v: number) => String(+v.toPrecision(4)));
  const xt = axes.x.ticks.map((v) =>
    `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${bottom}" y2="${bottom + 5}" stroke="#333"/>` +
    `<text x="${x(v).toFixed(1)}" y="${bottom + 18}" font-size="11" text-anchor="middle">${fmt(axes.x)(v)}</text>`
  ).join('');
  const yt = axes.y.ticks.map((v) =>
    `<line x1="${left - 5}" x2="${left}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#333"/>` +
    `<line x1="${left}" x2="${right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>` +
    `<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${fmt(axes.y)(v)}</text>`
  ).join('');
  return {
    x,
    y,
    left,
    right,
    top,
    bottom,
    svg: (content) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">` +
      `<rect width="100%" height="100%" fill="white"/>${yt}${xt}` +
      `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333"/><line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333"/>` +
      `<text x="${(left + right) / 2}" y="${H - 10}" font-size="12" text-anchor="middle">${axes.x.label}</text>` +
      `<text x="16" y="${(top + bottom) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${(top + bottom) / 2})">${axes.y.label}</text>` +
      // A clip path at the top level: resvg (svgToPng) mis-clips one inside a nested <svg>.
      `<defs><clipPath id="plot"><rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}"/></clipPath></defs>` +
      `<g clip-path="url(#plot)">${content}</g></svg>\n`,
  };
};
