// The README's library examples run as written, importing the package by its
// name, each in an empty directory: "Use as a library" (train on a string,
// save, load, generate) and the book's pieces assembled by hand.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, run } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

// Inside the repository, so that `import ... from 'deeprnn'` resolves to this package (its own name).
const dir = path.join(ROOT, 'test', '.tmp-readme');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** Runs a README example in a directory of its own; returns its output lines. */
async function runExample(code: string, name: string): Promise<{ lines: string[]; cwd: string }> {
  expect(code).toContain("from 'deeprnn'");
  const cwd = path.join(dir, name);
  mkdirSync(cwd, { recursive: true });
  const file = path.join(cwd, 'example.mjs');
  writeFileSync(file, code);
  const r = await run(process.execPath, [file], { cwd });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { lines: r.stdout.replace(/\n$/, '').split('\n'), cwd };
}

describe('README', () => {
  it('has the two library examples', () => {
    expect(examples).toHaveLength(2);
  });

  it('"Use as a library" names as constants only what the package exports', async () => {
    // (YIELD_MS was named twice, and not exported)
    const section = readme.slice(readme.indexOf('## Use as a library'), readme.indexOf('## How it is built'));
    const names = [...new Set([...section.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`/g)].map((m) => m[1]!))];
    expect(names).toContain('YIELD_MS');
    expect(names).toContain('RUN_DEFAULTS');
    const lib = await import(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href) as Record<string, unknown>;
    expect(names.filter((n) => !(n in lib))).toEqual([]);
    expect(lib.YIELD_MS).toBe(Number(/`YIELD_MS`, (\d+) ms/.exec(section)?.[1]));
  });

  it('"Use as a library": trains on a string, saves, loads and generates', async () => {
    const { lines, cwd } = await runExample(examples[0]!, 'use');
    expect(lines).toHaveLength(3);
    const ppl = Number(/^val ppl (\d+\.\d\d)$/.exec(lines[0]!)?.[1]);
    expect(ppl).toBeGreaterThan(1);
    expect(ppl).toBeLessThan(6);
    expect(lines[1]).toMatch(/^the time traveller[a-z ]{40}$/);
    expect(lines[2]).toMatch(/^the time traveller[a-z ]{40}$/);
    expect(lines[2]).not.toBe(lines[1]);
    // What model.save wrote is a checkpoint the command line reads.
    const saved = path.join(cwd, 'tm.safetensors');
    expect(existsSync(saved)).toBe(true);
    const p = await cli(['predict', 'the time traveller', '--model', saved, '--num-preds', '40']);
    expect(p.stdout).toBe(`${lines[1]}\n`);
  });

  it("runs the book's pieces assembled by hand", async () => {
    const { lines } = await runExample(examples[1]!, 'book');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toMatch(/^1 \d+\.\d+$/);
    const ppl10 = Number(lines[9]!.split(' ')[1]);
    expect(ppl10).toBeLessThan(15);
    expect(lines[10]).toMatch(/^it has[a-z ]{20}$/);
  });
});
