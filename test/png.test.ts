/**
 * PNG output: the library's plots rendered with @resvg/resvg-js, decoded
 * again with jimp and looked at pixel by pixel (size, ink, the text drawn),
 * and `savePlot`'s formats, refusals and atomic writes.
 */
import { withTempDir } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Jimp } from 'jimp';
import { confusionMatrixSvg, lossPlotSvg, type LrFindResult, lrFindSvg } from '../mod.ts';
import { savePlot, svgToPng } from '../node.ts';

// Debian's fonts-dejavu-core (npm run setup:test installs it where it is missing).
const DEJAVU = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const plot = lossPlotSvg({ losses: [2, 1.5, 1.2, 1], smoothLosses: [2, 1.8, 1.6, 1.4], epochs: [], epochEnds: [2, 4] });
const noText = plot.replace(/<text[^>]*>[^<]*<\/text>/g, '');

/** Width, height, and the counts of dark pixels, and of blue ones (the curves' #1f77b4) in each half, top and bottom, of a PNG. */
const look = async (png: Uint8Array) => {
  const img = await Jimp.read(Buffer.from(png));
  const { width, height, data } = img.bitmap;
  let dark = 0;
  const blue = [0, 0];
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] + data[i + 1] + data[i + 2] < 3 * 128) dark++;
    if (data[i + 2] > data[i] + 80) blue[i / 4 / width < height / 2 ? 0 : 1]++;
  }
  return { width, height, dark, blue };
};

describe('svgToPng', () => {
  test('renders a plot at scale × its SVG size, on white, with its text drawn', async () => {
    const [w, h] = [Number(/width="(\d+)"/.exec(plot)![1]), Number(/height="(\d+)"/.exec(plot)![1])];
    const png = await svgToPng(plot);
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'the PNG signature');
    const full = await look(png), bare = await look(await svgToPng(noText));
    assert.deepEqual([full.width, full.height], [2 * w, 2 * h]);
    assert.ok(full.dark > 0 && full.dark < full.width * full.height / 4, `${full.dark} dark pixels: mostly white, with ink`);
    assert.ok(full.dark > bare.dark + 500, `the labels add ink: ${full.dark} with text, ${bare.dark} without`);
    // The curves are drawn whole inside the plot's clip: an lrFind curve from the top of the plot to its bottom,
    // whose diverging tail leaves the plot far above (resvg once clipped all but its top part away).
    const lrs = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1], losses = [2.3, 2.2, 1.9, 2.1, 9, 60];
    const found = lrFindSvg({ lrs, losses, valley: 1e-3, steep: 1e-4, minimum: 1e-3 } as LrFindResult);
    const curve = await look(await svgToPng(found, { scale: 1 }));
    const axesOnly = await look(await svgToPng(found.replace(/<polyline[^>]*\/>/, ''), { scale: 1 }));
    const drawn = curve.blue.map((b, i) => b - axesOnly.blue[i]);
    assert.ok(drawn[0] > 100 && drawn[1] > 100, `the curve's blue pixels in the top and bottom halves: ${drawn.join(', ')}`);
    const one = await look(await svgToPng(plot, { scale: 1 }));
    assert.deepEqual([one.width, one.height], [w, h]);
  });

  test('with systemFonts false, text needs fontFiles: a ConfigError says so rather than leaving the labels out', async () => {
    await assert.rejects(() => svgToPng(plot, { systemFonts: false }), /svgToPng: no font found for the text \(systemFonts is false\)/);
    const own = await look(await svgToPng(plot, { systemFonts: false, fontFiles: [DEJAVU] }));
    assert.ok(own.dark > (await look(await svgToPng(noText))).dark + 500, 'the font file draws the labels');
    // No text, no font needed.
    assert.ok((await look(await svgToPng(noText, { systemFonts: false }))).dark > 0);
  });

  test('refuses bad input by name', async () => {
    await assert.rejects(() => svgToPng('not svg'), /svgToPng\.svg: expected SVG text, got "not svg"/);
    await assert.rejects(() => svgToPng(plot, { scale: 0 }), /svgToPng\.scale: expected a number in \(0, 16\], got 0/);
    await assert.rejects(
      () => svgToPng(plot, { fontFiles: ['/no/such.ttf'] }),
      /svgToPng\.fontFiles\.0: expected a font file, got "\/no\/such\.ttf", which does not exist/,
    );
    await assert.rejects(() => svgToPng(plot, { systemFonts: 'no' as never }), /svgToPng\.systemFonts: expected a boolean, got "no"/);
    await assert.rejects(() => svgToPng(plot, { fontFiles: '/a.ttf' as never }), /svgToPng\.fontFiles: expected an array of file paths, got "\/a\.ttf"/);
    await assert.rejects(() => svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect'), /svgToPng\.svg: resvg could not render it/);
  });
});

describe('savePlot', () => {
  test('writes SVG text or a PNG by the extension, and refuses any other', () =>
    withTempDir('png', async (dir) => {
      const svgFile = path.join(dir, 'confusion.svg'), pngFile = path.join(dir, 'sub', 'confusion.PNG');
      const svg = confusionMatrixSvg([[5, 1], [2, 7]], ['cat', 'dog']);
      assert.equal(await savePlot(svgFile, svg), svgFile);
      assert.equal(fs.readFileSync(svgFile, 'utf8'), svg);
      await savePlot(pngFile, svg);
      assert.ok((await look(fs.readFileSync(pngFile))).dark > 0);
      await assert.rejects(() => savePlot(path.join(dir, 'x.jpg'), svg), /savePlot\.file: expected a name ending in \.svg or \.png, got ".*x\.jpg"/);
      assert.ok(!fs.existsSync(path.join(dir, 'x.jpg')));
      await assert.rejects(() => savePlot(path.join(dir, 'y.svg'), 'no plot'), /savePlot\.svg: expected SVG text, got "no plot"/);
      await assert.rejects(() => savePlot(path.join(dir, 'y.svg'), undefined as never), /savePlot\.svg: expected SVG text, got undefined/);
      assert.ok(!fs.existsSync(path.join(dir, 'y.svg')));
    }));

  test('a failed render leaves the file it would have replaced as it was, and no temporary file', () =>
    withTempDir('png', async (dir) => {
      const file = path.join(dir, 'loss.png');
      await savePlot(file, plot);
      const before = fs.readFileSync(file);
      await assert.rejects(() => savePlot(file, plot, { systemFonts: false }), /no font found/);
      assert.deepEqual(fs.readFileSync(file), before);
      assert.deepEqual(fs.readdirSync(dir), ['loss.png']);
    }));
});
