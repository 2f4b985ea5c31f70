/**
 * Plots as pictures: the library's SVG plots rendered to PNG with the
 * optional package `@resvg/resvg-js` (a native build of resvg, with the
 * system's fonts), and `savePlot`, which writes either format by the file's extension.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { ConfigError } from '../errors.ts';
import { showValue } from '../config.ts';
import { importOptional } from '../optional_import.ts';
import { writeFileAtomic } from './atomic_write.ts';

type ResvgModule = typeof import('@resvg/resvg-js');

/** Options of {@link svgToPng}. */
export interface PngOptions {
  /** Pixels per SVG unit: 2 gives a sharp picture on a high-density screen. Default 2. */
  readonly scale?: number;
  /** Font files to use besides the system's (e.g. where the system has none). Default none. */
  readonly fontFiles?: readonly string[];
  /** Use the system's fonts. `false` with `fontFiles` renders the same on every machine. Default true. */
  readonly systemFonts?: boolean;
}

let resvg: Promise<ResvgModule> | undefined;
const loadResvg = (): Promise<ResvgModule> => (resvg ??= importOptional<ResvgModule>('@resvg/resvg-js').then((r) => {
  if ('module' in r) return r.module;
  resvg = undefined;
  throw new ConfigError([
    r.missing
      ? 'svgToPng: PNG output needs the optional package @resvg/resvg-js, which is not installed; install it (npm install @resvg/resvg-js) or write the .svg'
      : `svgToPng: @resvg/resvg-js is installed but did not load (${r.message})`,
  ]);
}));

type Fonts = { readonly files: readonly string[]; readonly system: boolean };

const renderer = (m: ResvgModule, svg: string, scale: number, fonts: Fonts) =>
  new m.Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: fonts.system, fontFiles: [...fonts.files], defaultFontFamily: 'DejaVu Sans' },
  });

/** Refuse anything but SVG text, under `owner`'s name. */
const checkSvg = (owner: string, svg: unknown): void => {
  if (typeof svg !== 'string' || !/<svg[\s>]/.test(svg)) throw new ConfigError([`${owner}.svg: expected SVG text, got ${showValue(svg)}`]);
};

const inkByFonts = new Map<string, boolean>();

/** Whether text renders with these fonts (resvg silently leaves out text it has no font for); probed once per font setting. */
const textHasInk = (m: ResvgModule, fonts: Fonts): boolean => {
  const id = JSON.stringify(fonts);
  if (!inkByFonts.has(id)) inkByFonts.set(id, probeInk(m, fonts));
  return inkByFonts.get(id)!;
};

const probeInk = (m: ResvgModule, fonts: Fonts): boolean => {
  const probe = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="24" font-family="sans-serif"><text x="4" y="18" font-size="16">Mg</text></svg>';
  const px = renderer(m, probe, 1, fonts).render().pixels;
  for (let i = 0; i < px.length; i += 4) if (px[i] < 128) return true;
  return false;
};

/**
 * Render an SVG (one of the library's plots, say) to PNG bytes, on white.
 * Needs the optional package `@resvg/resvg-js`; a ConfigError says so when
 * it is missing, and when the SVG has text but no font is found for it
 * (resvg would leave the text out without a word).
 *
 * @example
 * ```ts
 * import { svgToPng } from 'tsnn/node';
 *
 * const png = await svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20"><circle cx="10" cy="10" r="8"/></svg>');
 * console.log(png.subarray(1, 4), new DataView(png.buffer, png.byteOffset).getUint32(16)); // Uint8Array(3) [ 80, 78, 71 ] 60
 * ```
 */
export const svgToPng = async (svg: string, opts: PngOptions = {}): Promise<Uint8Array> => {
  const scale = opts.scale ?? 2, fonts = { files: opts.fontFiles ?? [], system: opts.systemFonts ?? true };
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 16)) throw new ConfigError([`svgToPng.scale: expected a number in (0, 16], got ${scale}`]);
  if (typeof fonts.system !== 'boolean') throw new ConfigError([`svgToPng.systemFonts: expected a boolean, got ${showValue(fonts.system)}`]);
  if (!Array.isArray(fonts.files) || !fonts.files.every((f) => typeof f === 'string')) {
    throw new ConfigError([`svgToPng.fontFiles: expected an array of file paths, got ${showValue(fonts.files)}`]);
  }
  checkSvg('svgToPng', svg);
  fonts.files.forEach((f, i) => {
    if (!fs.existsSync(f)) throw new ConfigError([`svgToPng.fontFiles.${i}: expected a font file, got ${JSON.stringify(f)}, which does not exist`]);
  });
  const m = await loadResvg();
  if (svg.includes('<text') && !textHasInk(m, fonts)) {
    throw new ConfigError([
      `svgToPng: no font found for the text (${fonts.system ? 'resvg found no system fonts' : 'systemFonts is false'}${
        fonts.files.length ? ` and fontFiles [${fonts.files.join(', ')}] gave none` : ''
      }); install some (Debian: apt install fonts-dejavu-core) or pass fontFiles`,
    ]);
  }
  let rendered;
  try {
    rendered = renderer(m, svg, scale, fonts).render();
  } catch (e) {
    throw new ConfigError([`svgToPng.svg: resvg could not render it (${(e as Error).message.split('\n')[0]})`]);
  }
  return new Uint8Array(rendered.asPng());
};

/**
 * Write a plot to `file`: the SVG text for `.svg`, a PNG for `.png` (see
 * {@link svgToPng}). The write is atomic, so a failed one leaves the old file
 * as it was. Returns the path written.
 *
 * @example
 * ```ts
 * import * as fs from 'node:fs';
 * import { lossPlotSvg } from 'tsnn';
 * import { savePlot } from 'tsnn/node';
 *
 * const svg = lossPlotSvg({ losses: [1, 0.8, 0.7, 0.6], smoothLosses: [1, 0.9, 0.83, 0.77], epochs: [], epochEnds: [2, 4] });
 * const dir = Deno.makeTempDirSync();
 * await savePlot(`${dir}/loss.svg`, svg);
 * await savePlot(`${dir}/loss.png`, svg);
 * console.log(fs.readdirSync(dir).sort()); // [ "loss.png", "loss.svg" ]
 * fs.rmSync(dir, { recursive: true });
 * ```
 */
export const savePlot = async (file: string, svg: string, opts: PngOptions = {}): Promise<string> => {
  const ext = nodePath.extname(file).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new ConfigError([`savePlot.file: expected a name ending in .svg or .png, got ${JSON.stringify(file)}`]);
  checkSvg('savePlot', svg);
  const bytes = ext === '.png' ? await svgToPng(svg, opts) : new TextEncoder().encode(svg);
  writeFileAtomic(file, bytes);
  return file;
};
