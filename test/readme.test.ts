import './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

describe('README', () => {
  test('the example in the README is examples/law_check.ts, and it runs', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /## Example: compose a block and check a law\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README lacks the example block');
    const file = readFileSync(new URL('../examples/law_check.ts', import.meta.url), 'utf8');
    assert.equal(file.split('\n').slice(1).join('\n'), block.replace("from './mod.ts'", "from '../mod.ts'").replace("from './laws.ts'", "from '../laws.ts'"));
    await import('../examples/law_check.ts');
  });

  test('the training example in the README is examples/readme_train.ts (type-checked by npm test)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /## Example: train\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README lacks the training example');
    const file = readFileSync(new URL('../examples/readme_train.ts', import.meta.url), 'utf8');
    assert.equal(file.split('\n').slice(1).join('\n'), block.replace("from './mod.ts'", "from '../mod.ts'"));
  });

  test('the scripts the README names exist', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    for (const [, script] of readme.matchAll(/npm run (\w+)/g)) assert.ok(pkg.scripts[script], `npm run ${script} is not in package.json`);
    for (const [, file] of readme.matchAll(/(examples\/\w+\.ts)/g)) assert.ok(existsSync(new URL(`../${file}`, import.meta.url)), `${file} is missing`);
  });
});
