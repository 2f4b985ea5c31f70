/**
 * What every benchmark process shares: timing repeated runs of a step, and
 * printing the one JSON line that bench.ts reads.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Images/s of `runs` timed runs of `steps` steps each, after `warmup` untimed steps. */
export const timeSteps = async (
  step: () => Promise<unknown>,
  o: { readonly batch: number; readonly warmup: number; readonly steps: number; readonly runs: number },
): Promise<{ rates: number[]; median: number }> => {
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) await step();
  };
  await run(o.warmup);
  const rates: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    const t0 = performance.now();
    await run(o.steps);
    rates.push((o.batch * o.steps) / ((performance.now() - t0) / 1000));
  }
  const sorted = [...rates].sort((p, q) => p - q);
  return { rates, median: sorted[Math.floor(sorted.length / 2)] };
};

/** Print the result line, with peak resident memory and live tensors now. */
export const report = (
  fields: { engine: string; model: string; batch: number; threads: number; ops_per_step?: number },
  t: { rates: number[]; median: number },
): void =>
  console.log(JSON.stringify({
    ...fields,
    images_per_s: t.rates,
    median: t.median,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    live_tensors: tf.memory().numTensors,
  }));
