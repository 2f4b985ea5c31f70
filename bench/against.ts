/**
 * This checkout against another (an earlier commit's worktree, say), with
 * PyTorch as the common baseline, in interleaved rounds:
 *
 *   git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   node --import tsx bench/against.ts --base /tmp/base [--model resnet2] [--batch 64] [--rounds 6]
 *
 * Every round runs each engine once, in its own process and in a rotated
 * order: PyTorch with 2 threads, then each checkout's `bench/ours.ts` with 1
 * and 2 workers. It prints each engine's median images/s and range, each
 * checkout's ratio to PyTorch, and the per-round ratio of this checkout to
 * the other (same round, same machine state).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    base: { type: 'string' },
    model: { type: 'string', default: 'resnet2' },
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '6' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '10' },
  },
});
if (!a.base) {
  console.error('usage: bench/against.ts --base DIR (a checkout with bench/ours.ts and node_modules)');
  process.exit(2);
}
const here = path.resolve(new URL('..', import.meta.url).pathname), there = path.resolve(a.base);
const common = ['--model', a.model!, '--batch', a.batch!, '--steps', a.steps!, '--runs', '1', '--warmup', a.warmup!];

/** One process; its last JSON line's median images/s, or undefined with the reason on stderr. */
const run = (label: string, cmd: string, args: string[], cwd: string): number | undefined => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 20 * 60_000 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(`  ${label}: failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').pop()}\n`);
    return undefined;
  }
  const rate = JSON.parse(line).median as number;
  process.stderr.write(`  ${label}: ${rate.toFixed(1)} img/s\n`);
  return rate;
};
const ours = (dir: string, workers: string) => () =>
  run(`${dir === here ? 'this' : 'base'} ×${workers}`, process.execPath, [
    '--import',
    'tsx',
    'bench/ours.ts',
    '--backend',
    'wasm',
    ...common,
    '--workers',
    workers,
  ], dir);

const engines: [string, () => number | undefined][] = [
  ['PyTorch 2T', () => run('PyTorch 2T', '/usr/bin/python3', ['bench/torch_resnet.py', ...common, '--threads', '2'], here)],
  ['base ×1', ours(there, '1')],
  ['this ×1', ours(here, '1')],
  ['base ×2', ours(there, '2')],
  ['this ×2', ours(here, '2')],
];
const rounds = Number(a.rounds);
const rates: Record<string, (number | undefined)[]> = Object.fromEntries(engines.map(([n]) => [n, []]));
for (let r = 0; r < rounds; r++) {
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
  for (let k = 0; k < engines.length; k++) {
    const [name, go] = engines[(k + r) % engines.length];
    rates[name][r] = go();
  }
}

const median = (v: number[]) => {
  const s = [...v].sort((p, q) => p - q), m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ok = (v: (number | undefined)[]) => v.filter((x): x is number => x !== undefined);
const range = (v: number[]) => `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
/** Per-round ratios of two engines, over the rounds where both ran. */
const paired = (p: string, q: string) => rates[p].flatMap((x, i) => (x !== undefined && rates[q][i] !== undefined ? [x / rates[q][i]!] : []));

console.log(`${a.model}, batch ${a.batch}, ${rounds} interleaved rounds (${a.steps} timed steps after ${a.warmup} warm-up steps each)`);
console.log(`this: ${here}\nbase: ${there}\n`);
for (const [name] of engines) {
  const v = ok(rates[name]);
  console.log(
    `${name.padEnd(11)} ${v.length ? `${median(v).toFixed(1).padStart(7)} img/s  (${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)})` : 'no run'}`,
  );
}
console.log();
for (const w of ['1', '2']) {
  const b = paired(`base ×${w}`, 'PyTorch 2T'), t = paired(`this ×${w}`, 'PyTorch 2T'), tb = paired(`this ×${w}`, `base ×${w}`);
  if (!b.length || !t.length) continue;
  console.log(
    `×${w}: vs PyTorch 2T, base ${median(b).toFixed(3)}× (${range(b)}), this ${median(t).toFixed(3)}× (${range(t)}); this/base per round ${
      median(tb).toFixed(3)
    } (${range(tb)})`,
  );
}
