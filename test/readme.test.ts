import './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

describe('README', () => {
  test('the example in the README is examples/law_check.ts, and it runs', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /## Example: compose a block and check a law\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README lacks the example block');
    const file = readFileSync(new URL('../examples/law_check.ts', import.meta.url), 'utf8');
    assert.equal(file.split('\n').slice(1).join('\n'), block.replace("from './mod.ts'", "from '../mod.ts'"));
    await import('../examples/law_check.ts');
  });
});
