/**
 * The API docs' examples are doc tests: every `@example` in the library's
 * sources is a fenced TypeScript block, which `npm run test:doc`
 * (`deno test --doc`) type-checks and runs. An unfenced example would be
 * skipped by deno silently, so this test refuses one.
 */
import './helpers.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const sources = (dir: string): string[] =>
  readdirSync(new URL(dir, root)).flatMap((name) => {
    const rel = `${dir}${name}`;
    if (statSync(new URL(rel, root)).isDirectory()) return sources(`${rel}/`);
    return rel.endsWith('.ts') ? [rel] : [];
  });

test('every @example in the sources is a fenced ts block', () => {
  const files = [...sources('src/'), 'mod.ts', 'node.ts', 'backend.ts', 'laws.ts'];
  let examples = 0;
  const unfenced: string[] = [];
  for (const file of files) {
    const lines = readFileSync(new URL(file, root), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!/^\s*\*\s*@example\b/.test(line)) return;
      examples++;
      const next = lines.slice(i + 1).find((l) => !/^\s*\*\s*$/.test(l)) ?? '';
      if (!/^\s*\*\s*```ts\s*$/.test(next)) unfenced.push(`${file}:${i + 1}`);
    });
  }
  assert.ok(examples > 200, `found ${examples} examples`);
  assert.deepEqual(unfenced, [], `${unfenced.length} of ${examples} examples are not fenced \`\`\`ts blocks`);
});
