// The page's files: its HTML and CSS (src/web, which the package ships), its
// scripts (dist/, compiled from src/web and the modules they share with the
// command line: the tokenizer, the sampler and its Rng), and ONNX Runtime for
// the web (the WASM build: one ES module and one .wasm, from the package's
// vendor/ copy or from node_modules/onnxruntime-web). Every file is found once,
// at start; a request can only name one of these.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root (this file is src/serve/assets.ts or dist/serve/assets.js). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The page's entry script, under dist/. */
export const ENTRY = 'web/app.js';

/** ONNX Runtime's files the page loads: the WASM-only ES module bundle and its binary (scripts/vendor-web.js copies the same). */
export const ORT_FILES = ['ort.wasm.bundle.min.mjs', 'ort-wasm-simd-threaded.wasm'] as const;

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
};

export interface Assets {
  /** URL path -> file. */
  files: Map<string, string>;
  /** Why the playground cannot run, when ONNX Runtime for the web is not there. */
  ortMissing: string | null;
}

/** The relative imports of a compiled module ("./x.js", "../y.js"). */
function relativeImports(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[;\s}])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(source)) !== null) out.push((m[1] ?? m[2])!);
  return out;
}

/**
 * The modules of dist/ that the page's entry imports, directly or not: they
 * are served under /lib/ at their place in dist/. An import of anything but
 * a relative module (a package, a node: builtin) is an error here, before a
 * browser meets it.
 */
export function pageModules(distDir: string, entry = ENTRY): string[] {
  const seen = new Set<string>();
  const visit = (rel: string) => {
    if (seen.has(rel)) return;
    const file = path.join(distDir, ...rel.split('/'));
    if (!existsSync(file)) throw new Error(`${file} is missing: build the TypeScript first (npm run build:ts)`);
    seen.add(rel);
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('./') && !spec.startsWith('../')) throw new Error(`${rel} imports "${spec}", which a browser cannot load from this server`);
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
      if (target.startsWith('../')) throw new Error(`${rel} imports "${spec}", outside dist/`);
      visit(target);
    }
  };
  visit(entry);
  return [...seen].sort();
}

/**
 * Where ONNX Runtime for the web is: a checkout's own node_modules (the
 * devDependency), else the packed package's vendor/ copy (scripts/vendor-web.js),
 * else wherever onnxruntime-web resolves from here.
 */
export function ortDir(): string | null {
  const candidates = [path.join(PACKAGE_ROOT, 'node_modules', 'onnxruntime-web', 'dist'), path.join(PACKAGE_ROOT, 'vendor', 'onnxruntime-web')];
  try {
    candidates.push(path.dirname(createRequire(path.join(PACKAGE_ROOT, 'package.json')).resolve('onnxruntime-web')));
  } catch {
    // not installed
  }
  return candidates.find((dir) => ORT_FILES.every((f) => existsSync(path.join(dir, f)))) ?? null;
}

export function findAssets(): Assets {
  const files = new Map<string, string>();
  const web = path.join(PACKAGE_ROOT, 'src', 'web');
  files.set('/', path.join(web, 'index.html'));
  files.set('/assets/style.css', path.join(web, 'style.css'));
  const dist = path.join(PACKAGE_ROOT, 'dist');
  for (const m of pageModules(dist)) files.set(`/lib/${m}`, path.join(dist, ...m.split('/')));
  const ort = ortDir();
  if (ort) for (const f of ORT_FILES) files.set(`/ort/${f}`, path.join(ort, f));
  for (const [, f] of files) if (!existsSync(f)) throw new Error(`the page's file ${f} is missing`);
  return {
    files,
    ortMissing: ort ? null : 'ONNX Runtime for the web is not installed (npm install onnxruntime-web, or a packed deeprnn, which carries it in vendor/)',
  };
}
