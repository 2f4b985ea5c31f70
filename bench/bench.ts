/**
 * `npm run bench`: one full training step (forward, backward, Adam) of the
 * chapter-14 ResNets on 28×28×1, 10 classes, at batch 64 and 256, on every
 * engine available, each run in its own process, and each figure's ratio to
 * PyTorch (2 threads) measured in the same run.
 *
 *   node --import tsx bench/bench.ts [--quick] [--rounds 3] [--json out.json] [--models resnet2] [--batches 64]
 *
 * The arrangements of this library: the single-threaded wasm build; two
 * data-parallel workers of one thread each; the threaded build on 2 XNNPACK
 * threads; and `fit` with its defaults (no engine chosen: it picks one
 * itself), timed batch to batch as a user runs it.
 *
 * The machines are shared and their speed drifts over minutes, so the engines
 * are interleaved: every round runs each engine once (in a rotated order),
 * and each figure is the median over rounds. The spread across rounds is
 * printed too.
 *
 * The cpu engines (this library on tfjs's cpu backend, and tfjs-layers, which
 * cannot train convs on stock wasm) take seconds per step, so they are timed
 * once, on one step at batch 64.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    json: { type: 'string' },
    models: { type: 'string', default: 'resnet,resnet2' },
    batches: { type: 'string', default: '64,256' },
  },
});
const here = (p: string) => new URL(p, import.meta.url).pathname;

interface Sample {
  engine: string;
  model: string;
  batch: number;
  threads: number;
  median: number;
  images_per_s: number[];
  peak_rss_mb?: number;
  live_tensors?: number;
  ops_per_step?: number;
}
interface Row {
  engine: string;
  model: string;
  batch: number;
  threads: number;
  rates: number[];
  peak_rss_mb?: number;
  live_tensors?: number;
  ops_per_step?: number;
}

/** Run one benchmark process; its last JSON line is the sample. */
const run = (cmd: string, args: string[], label: string): Sample | undefined => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20 * 60_000 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(`  ${label}: failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').pop()}\n`);
    return undefined;
  }
  const s = JSON.parse(line) as Sample;
  process.stderr.write(`  ${label}: ${s.median.toFixed(1)} img/s\n`);
  return s;
};
// Each engine process runs on the same runtime as this script (`deno task bench` under Deno).
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const tsx = (
  script: string,
  args: string[],
): [string, string[]] => [process.execPath, isDeno ? ['run', '-A', here(script), ...args] : ['--import', 'tsx', here(script), ...args]];

const torchOk = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const models = a.models!.split(','), batches = a.batches!.split(',').map(Number);
const steps = a.quick ? '3' : '10', rounds = Number(a.rounds ?? (a.quick ? 2 : 3));
// Steady state: wasm code tiers up, and caches and heaps grow, over the first steps (slower with two busy threads).
const warmup = a.quick ? '2' : '10';
const rows: Row[] = [];
const record = (s: Sample | undefined, engine: string) => {
  if (!s) return;
  let row = rows.find((r) => r.engine === engine && r.model === s.model && r.batch === s.batch);
  if (!row) rows.push(row = { engine, model: s.model, batch: s.batch, threads: s.threads, rates: [] });
  row.rates.push(s.median);
  if (s.peak_rss_mb !== undefined) row.peak_rss_mb = Math.max(row.peak_rss_mb ?? 0, s.peak_rss_mb);
  if (s.live_tensors !== undefined) row.live_tensors = s.live_tensors;
  if (s.ops_per_step !== undefined) row.ops_per_step = s.ops_per_step;
};

for (const model of models) {
  for (const batch of batches) {
    const b = String(batch);
    process.stderr.write(`${model}, batch ${batch}\n`);
    const engines: [string, () => Sample | undefined][] = [
      ...(torchOk
        ? ['2', '1'].map((
          t,
        ): [string, () => Sample | undefined] => [
          `PyTorch ${t} thread${t === '1' ? '' : 's'}`,
          () =>
            run('/usr/bin/python3', [
              here('./torch_resnet.py'),
              '--model',
              model,
              '--batch',
              b,
              '--threads',
              t,
              '--steps',
              steps,
              '--runs',
              '1',
              '--warmup',
              warmup,
            ], `PyTorch ${t}T`),
        ])
        : []),
      ...([
        ['tsnn wasm 1 thread', ['--threads', '1']],
        ['tsnn wasm ×2 workers', ['--threads', '1', '--workers', '2']],
        ['tsnn wasm 2 threads', ['--threads', '2']],
        ['tsnn fit defaults', ['--mode', 'fit']],
      ] as const).map(([label, extra]): [string, () => Sample | undefined] => [
        label,
        () => run(...tsx('./ours.ts', ['--model', model, '--batch', b, '--steps', steps, '--runs', '1', '--warmup', warmup, ...extra]), label),
      ]),
    ];
    for (let r = 0; r < rounds; r++) {
      process.stderr.write(` round ${r + 1}/${rounds}\n`);
      // Rotate the order, so that no engine always runs first after a quiet spell.
      for (let k = 0; k < engines.length; k++) {
        const [name, go] = engines[(k + r) % engines.length];
        record(go(), name);
      }
    }
    if (batch === 64 && !a.quick) {
      record(
        run(...tsx('./ours.ts', ['--backend', 'cpu', '--model', model, '--batch', b, '--steps', '1', '--runs', '1', '--warmup', '1']), 'tsnn cpu'),
        'tsnn cpu',
      );
      record(
        run(...tsx('./layers.ts', ['--backend', 'cpu', '--model', model, '--batch', b, '--steps', '1', '--runs', '1', '--warmup', '1']), 'tfjs-layers cpu'),
        'tfjs-layers cpu',
      );
    }
  }
}

const median = (v: number[]) => {
  const s = [...v].sort((p, q) => p - q), m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const base = (r: Row) => rows.find((x) => x.engine === 'PyTorch 2 threads' && x.model === r.model && x.batch === r.batch);
const header = ['model', 'batch', 'engine', 'images/s', 'range', 'vs PyTorch 2T', 'ops/step', 'peak RSS', 'live tensors'];
const table = rows.map((r) => [
  r.model,
  String(r.batch),
  r.engine,
  median(r.rates).toFixed(1),
  r.rates.length > 1 ? `${Math.min(...r.rates).toFixed(0)}–${Math.max(...r.rates).toFixed(0)}` : '',
  base(r) ? `${(median(r.rates) / median(base(r)!.rates)).toFixed(3)}×` : 'n/a',
  r.ops_per_step !== undefined ? String(r.ops_per_step) : '',
  r.peak_rss_mb !== undefined ? `${r.peak_rss_mb} MB` : '',
  r.live_tensors !== undefined ? String(r.live_tensors) : '',
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
console.log([header, ...table].map((t) => t.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n'));
if (!torchOk) console.log('\nPyTorch not found (/usr/bin/python3 -c "import torch" failed): apt-get install python3-torch for the baseline.');
console.log(
  `\nmedian over ${rounds} interleaved rounds of one process per engine (${steps} timed steps after ${warmup} warm-up steps); cpu engines: one step.`,
);
console.log('ratio: median over the median of PyTorch with 2 threads in the same run. Peak RSS: the largest of the benchmark processes.');
console.log("ops/step: tfjs kernels in one training step (with workers, the calling thread's share).");
if (a.json) fs.writeFileSync(a.json, JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
