// The README's library example runs as written, importing the package by its name.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

const dir = path.join(ROOT, 'test', '.tmp-readme');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('runs the library example', async () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code).toBeDefined();
  expect(code).toContain("from 'deeprnn'");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'example.mjs');
  writeFileSync(file, code!);
  const r = await run(process.execPath, [file]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(11);
  expect(lines[0]).toMatch(/^1 \d+\.\d+$/);
  const ppl10 = Number(lines[9]!.split(' ')[1]);
  expect(ppl10).toBeLessThan(15);
  expect(lines[10]).toMatch(/^it has[a-z ]{20}$/);
});
