import './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import ts from 'typescript';

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
    assert.equal(file.split('\n').slice(1).join('\n'), block.replace("from './mod.ts'", "from '../mod.ts'").replace("from './node.ts'", "from '../node.ts'"));
  });

  test('the scripts the README names exist', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    for (const [, script] of readme.matchAll(/npm run (\w+)/g)) assert.ok(pkg.scripts[script], `npm run ${script} is not in package.json`);
    for (const [, file] of readme.matchAll(/(examples\/\w+\.ts)/g)) assert.ok(existsSync(new URL(`../${file}`, import.meta.url)), `${file} is missing`);
  });

  test('the export counts in the Public API table are those of the entry points', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const files = ['mod.ts', 'node.ts', 'backend.ts', 'laws.ts'].map((f) => new URL(`../${f}`, import.meta.url).pathname);
    const program = ts.createProgram(files, {
      allowImportingTsExtensions: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
    });
    const checker = program.getTypeChecker();
    for (const file of files) {
      const name = file.split('/').pop()!;
      const count = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!).length;
      // Cells may be padded (deno fmt aligns table columns).
      const line = readme.split('\n').find((l) => new RegExp(`\\(${name.replace('.', '\\.')}\\) *\\|`).test(l));
      const row = line && /\| *(\d+) *\|/.exec(line);
      assert.ok(row, `README's Public API table lacks a row for ${name}`);
      assert.equal(Number(row[1]), count, `README says ${name} has ${row[1]} exports; it has ${count}`);
    }
  });
});
