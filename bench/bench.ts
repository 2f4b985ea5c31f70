/**
 * `npm run bench`: one full training step (forward, backward, Adam) of the
 * chapter-14 ResNets on 28×28×1, 10 classes, at batch 64 and 256, on every
 * engine available, each in its own process, with medians over repeated runs
 * and each figure's ratio to PyTorch (2 threads) measured in the same run.
 *
 *   node --import tsx bench/bench.ts [--quick] [--json out.json]
 *
 * The cpu engines (this library on tfjs's cpu backend, and tfjs-layers, which
 * cannot train convs on stock wasm) take tens of seconds per step, so they are
 * timed on one step at batch 64 only.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } } });
const here = (p: string) => new URL(p, import.meta.url).pathname;

interface Row { engine: string; model: string; batch: number; threads: number; median: number; images_per_s: number[]; peak_rss_mb?: number; live_tensors?: number; error?: string }

const run = (cmd: string, args: string[], label: string): Row | undefined => {
  process.stderr.write(`  ${label} ...`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20 * 60_000 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(` failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').pop()}\n`);
    return undefined;
  }
  const row = JSON.parse(line) as Row;
  process.stderr.write(` ${row.median.toFixed(1)} img/s\n`);
  return row;
};
const tsx = (script: string, args: string[]): [string, string[]] => [process.execPath, ['--import', 'tsx', here(script), ...args]];

const torchOk = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const models = ['resnet', 'resnet2'], batches = [64, 256];
const steps = a.quick ? '3' : '10', runs = a.quick ? '2' : '3';
const rows: Row[] = [];
for (const model of models) {
  for (const batch of batches) {
    process.stderr.write(`${model}, batch ${batch}\n`);
    const b = String(batch);
    if (torchOk) {
      for (const threads of ['2', '1']) {
        const r = run('/usr/bin/python3', [here('./torch_resnet.py'), '--model', model, '--batch', b, '--threads', threads, '--steps', steps, '--runs', runs], `PyTorch ${threads} thread(s)`);
        if (r) rows.push({ ...r, engine: `PyTorch ${threads} thread${threads === '1' ? '' : 's'}` });
      }
    }
    for (const workers of ['1', '2']) {
      const r = run(...tsx('./ours.ts', ['--backend', 'wasm', '--model', model, '--batch', b, '--steps', steps, '--runs', runs, '--workers', workers]), `tsnn wasm, ${workers} thread(s)`);
      if (r) rows.push(r);
    }
    if (batch === 64 && !a.quick) {
      const c = run(...tsx('./ours.ts', ['--backend', 'cpu', '--model', model, '--batch', b, '--steps', '1', '--runs', '1', '--warmup', '1']), 'tsnn cpu');
      if (c) rows.push(c);
      const l = run(...tsx('./layers.ts', ['--backend', 'cpu', '--model', model, '--batch', b, '--steps', '1', '--runs', '1', '--warmup', '1']), 'tfjs-layers cpu');
      if (l) rows.push(l);
    }
  }
}

const base = (r: Row) => rows.find((x) => x.engine === 'PyTorch 2 threads' && x.model === r.model && x.batch === r.batch);
const header = ['model', 'batch', 'engine', 'images/s', 'vs PyTorch 2T', 'peak RSS', 'live tensors'];
const table = rows.map((r) => [
  r.model, String(r.batch), r.engine, r.median.toFixed(1), base(r) ? `${(r.median / base(r)!.median).toFixed(3)}×` : 'n/a',
  r.peak_rss_mb !== undefined ? `${r.peak_rss_mb} MB` : '', r.live_tensors !== undefined ? String(r.live_tensors) : '',
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
console.log([header, ...table].map((t) => t.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n'));
if (!torchOk) console.log('\nPyTorch not found (/usr/bin/python3 -c "import torch" failed): apt-get install python3-torch for the baseline.');
console.log(`\nmedians of ${runs} runs of ${steps} steps (cpu engines: one step); peak RSS of the benchmark process; PyTorch via /usr/bin/python3.`);
if (a.json) fs.writeFileSync(a.json, JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
