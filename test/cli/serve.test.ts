// deeprnn serve without a browser: what it binds, what it serves (the page,
// its scripts, each checkpoint's info, ONNX export and card, the runs'
// metrics, live as server-sent events), and what it refuses: paths outside
// the directory however encoded, symlinks that lead out, writes of any kind,
// Host names that are not its own; and its messages.
import { appendFileSync, chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, QUICK } from '../helpers/cli.js';
import { cliAsUser } from '../helpers/sandbox.js';
import { notCamelCase } from '../helpers/keys.js';
import { readEvents, request, startServe, type ServeProcess } from '../helpers/serve.js';
import { TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const root = tmpDir();
const dir = path.join(root, 'runs');
const SECRET = 'TOP-SECRET-OUTSIDE-THE-DIRECTORY';
let served: ServeProcess;

beforeAll(async () => {
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  // mgu reads a file outside the directory (the info names it, not where it is)
  writeFileSync(path.join(root, 'text.txt'), readFileSync(TIMEMACHINE, 'utf8').slice(0, 30_000));
  const runs = await Promise.all([
    cli(['train', ...QUICK, '--out', path.join(dir, 'gru.safetensors')]),
    cli(['train', ...QUICK, '--epochs', '1', '--cell', 'mgu', '--corpus', path.join(root, 'text.txt'), '--out', path.join(dir, 'sub', 'mgu.safetensors')]),
  ]);
  for (const r of runs) expect(r.code, r.stderr).toBe(0);
  writeFileSync(path.join(root, 'secret.txt'), SECRET);
  // A real checkpoint outside the directory, and a link to it inside.
  writeFileSync(path.join(root, 'secret.safetensors'), Buffer.concat([readFileSync(path.join(dir, 'gru.safetensors'))]));
  symlinkSync(path.join(root, 'secret.safetensors'), path.join(dir, 'link.safetensors'));
  served = await startServe([dir]);
});

// Whether this machine listens on IPv6 loopback (a network namespace may have none).
const IPV6 = await new Promise<boolean>((resolve) => {
  const probe = net.createServer().once('error', () => resolve(false)).listen(0, '::1', () => probe.close(() => resolve(true)));
});

const json = (b: Buffer) => JSON.parse(b.toString('utf8')) as Record<string, unknown>;

describe('deeprnn serve', () => {
  it('binds 127.0.0.1 by default and says where', () => {
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(served.stdout()).toBe(`serving ${dir} at ${served.url}; Ctrl-C stops\n`);
    expect(served.stderr()).toBe('');
  });

  it('serves the page, its scripts and ONNX Runtime Web, with a policy that allows nothing from elsewhere', async () => {
    const page = await request(served.port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body.toString()).toContain('<script type="module" src="/lib/web/app.js"></script>');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'");
    for (const p of ['/lib/web/app.js', '/lib/web/onnx-lm.js', '/lib/generate.js', '/lib/rng.js', '/lib/data/tokenizer.js', '/assets/style.css']) {
      expect((await request(served.port, p)).status, p).toBe(200);
    }
    const wasm = await request(served.port, '/ort/ort-wasm-simd-threaded.wasm', { method: 'HEAD' });
    expect(wasm.status).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    // Only what the page imports is under /lib: not the CLI, not the native loader.
    expect((await request(served.port, '/lib/native.js')).status).toBe(404);
    expect((await request(served.port, '/lib/cli/main.js')).status).toBe(404);
  });

  it("lists the checkpoints, gives each one's info, its ONNX export (as deeprnn export writes it) and card", async () => {
    const state = json((await request(served.port, '/api/state')).body) as { checkpoints: { name: string }[]; playground: unknown };
    // link.safetensors leads out of the directory: refused by every route, so not listed either
    expect(state.checkpoints.map((c) => c.name)).toEqual(['gru.best.safetensors', 'gru.safetensors', 'sub/mgu.best.safetensors', 'sub/mgu.safetensors']);
    expect(state.playground).toEqual({ available: true });
    const info = json((await request(served.port, '/api/info?name=gru.safetensors')).body);
    expect(info).toMatchObject({ name: 'gru.safetensors', cell: 'gru', layers: 2, hidden: [16, 16], vocabSize: 28, tokenizer: 'd2l', onnx: { exportable: true } });
    expect(info.history).toMatchObject({ epochs: 2 });
    // The keys are camelCase, as every command's JSON.
    expect(notCamelCase(info)).toEqual([]);
    expect(notCamelCase(state)).toEqual([]);
    const onnx = await request(served.port, '/api/model.onnx?name=gru.safetensors');
    expect(onnx.status).toBe(200);
    const file = path.join(root, 'gru.onnx');
    expect((await cli(['export', path.join(dir, 'gru.safetensors'), '--onnx', file])).code).toBe(0);
    expect(onnx.body.equals(readFileSync(file))).toBe(true);
    expect(json((await request(served.port, '/api/card?name=gru.safetensors')).body)).toEqual(JSON.parse(readFileSync(path.join(root, 'gru.json'), 'utf8')));
    // mgu: info says why there is no playground for it; its export is refused with the reason.
    const mgu = json((await request(served.port, '/api/info?name=sub%2Fmgu.safetensors')).body);
    expect(mgu.onnx).toEqual({ exportable: false, reason: 'ONNX has no operator for the mgu cell (it exports rnn, rnn-relu, gru, lstm)' });
    expect((mgu.training as { corpus: string[] }).corpus).toEqual(['text.txt']);
    expect((info.training as { corpus: string[] }).corpus).toEqual(['timemachine']);
    const refused = await request(served.port, '/api/model.onnx?name=sub/mgu.safetensors');
    expect(refused.status).toBe(422);
    expect(json(refused.body).error).toMatch(/^the minimal gated unit \(mgu\) cannot be exported to ONNX/);
    expect(json((await request(served.port, '/api/info?name=nothere.safetensors')).body)).toEqual({ error: 'not found' });
  });

  it('refuses every path outside the directory, plainly or percent-encoded, through symlinks too, and never sends what is there', async () => {
    const targets: [string, number][] = [
      ['/../secret.txt', 403],
      ['/%2e%2e/secret.txt', 403],
      ['/%2E%2E%2Fsecret.txt', 403],
      ['/lib/..%2f..%2f..%2fsecret.txt', 403],
      ['/lib/%2e%2e/%2e%2e/package.json', 403],
      ['/assets/..%5c..%5csecret.txt', 403],
      ['/lib/./web/app.js', 403],
      ['/%00', 403],
      ['/%E0%A4%A', 400],
      ['/api/info?name=../secret.safetensors', 403],
      ['/api/info?name=..%2Fsecret.safetensors', 403],
      ['/api/info?name=%2e%2e%2fsecret.safetensors', 403],
      ['/api/model.onnx?name=sub/../../secret.safetensors', 403],
      ['/api/card?name=..%5Csecret.safetensors', 403],
      [`/api/info?name=${encodeURIComponent(path.join(root, 'secret.safetensors'))}`, 403],
      ['/api/info?name=link.safetensors', 403],
      ['/api/model.onnx?name=link.safetensors', 403],
      ['/api/info?name=../secret.txt', 403],
      // Decoded once, this is a literal name with "%2e" in it: nothing by that name, and no second decoding.
      ['/api/info?name=%252e%252e%252fsecret.safetensors', 404],
      ['/api/info?name=%2e%2e/runs/gru.safetensors', 403],
    ];
    for (const [target, status] of targets) {
      const r = await request(served.port, target);
      expect(r.status, target).toBe(status);
      expect(r.body.toString('latin1'), target).not.toContain(SECRET);
      expect(r.body.length, target).toBeLessThan(500);
    }
  });

  it('is read-only: every method but GET and HEAD is refused, and nothing in the directory changes', async () => {
    const before = readdirSync(dir).sort();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await request(served.port, '/api/info?name=gru.safetensors', { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(json(r.body).error).toBe(`${method} is not allowed: this server is read-only`);
    }
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('answers only its own loopback Host names (no DNS rebinding)', async () => {
    const evil = await request(served.port, '/api/state', { headers: { Host: `evil.example:${served.port}` } });
    expect(evil.status).toBe(403);
    expect(json(evil.body).error).toBe(`refused: the Host header "evil.example:${served.port}" is not this server's loopback address`);
    expect((await request(served.port, '/api/state', { headers: { Host: `localhost:${served.port}` } })).status).toBe(200);
    expect((await request(served.port, '/api/state', { headers: { Host: `127.0.0.1:${served.port + 1}` } })).status).toBe(403);
    // A target in absolute form (as a proxy sends it): its host stands for the Host header, its path is the target.
    const abs = await request(served.port, `http://127.0.0.1:${served.port}/api/info?name=gru.safetensors`, { headers: { Host: 'ignored.example' } });
    expect(abs.status).toBe(200);
    expect(json(abs.body)).toMatchObject({ name: 'gru.safetensors', cell: 'gru' });
    const absEvil = await request(served.port, `http://evil.example:${served.port}/api/state`);
    expect(absEvil.status).toBe(403);
    expect(json(absEvil.body).error).toBe(`refused: the request target's host "evil.example:${served.port}" is not this server's loopback address`);
    // and its path is checked as any other: no ".." of any encoding
    expect((await request(served.port, `http://127.0.0.1:${served.port}/%2e%2e/secret.txt`)).status).toBe(403);
    expect((await request(served.port, `http://localhost:${served.port}`)).status).toBe(200);
  });

  it('started on another loopback address, answers that address as its Host', async () => {
    const other = await startServe([dir, '--host', '127.0.0.2']);
    try {
      const r = await request(other.port, '/api/state', { host: '127.0.0.2', headers: { Host: `127.0.0.2:${other.port}` } });
      expect(r.status, r.body.toString()).toBe(200);
      expect((await request(other.port, '/api/state', { host: '127.0.0.2', headers: { Host: `127.0.0.3:${other.port}` } })).status).toBe(403);
    } finally {
      await other.stop();
    }
  });

  it('another spelling of loopback (LOCALHOST) still refuses a foreign Host: loopback is the address bound', async () => {
    const other = await startServe([dir, '--host', 'LOCALHOST']);
    try {
      expect(other.stderr()).not.toContain('anyone who can reach it');
      const host = other.url.includes('[') ? '::1' : '127.0.0.1';
      expect((await request(other.port, '/api/state', { host, headers: { Host: `evil.example:${other.port}` } })).status).toBe(403);
      expect((await request(other.port, '/api/state', { host, headers: { Host: `localhost:${other.port}` } })).status).toBe(200);
    } finally {
      await other.stop();
    }
  });

  it('a name too long for the filesystem is not found, and no error gives the directory\'s path', async () => {
    const r = await request(served.port, `/api/info?name=${'a'.repeat(300)}.safetensors`);
    expect(r.status).toBe(404);
    expect(r.body.toString()).not.toContain(dir);
    writeFileSync(path.join(dir, 'cut.safetensors'), readFileSync(path.join(dir, 'gru.safetensors')).subarray(0, 100));
    const cut = await request(served.port, '/api/info?name=cut.safetensors');
    expect(cut.status).toBe(422);
    expect(json(cut.body).error).toMatch(/^cut\.safetensors is not a valid safetensors file: /);
  });

  it("sends every run's epochs, then each epoch a run appends, as server-sent events", async () => {
    const metrics = path.join(dir, 'gru.metrics.jsonl');
    const events = await readEvents(served.port, '/api/events', (ev) => {
      if (ev.length === 1) {
        const first = ev[0]!.data as { name: string; points: unknown[] }[];
        expect(ev[0]!.event).toBe('runs');
        expect(first.find((r) => r.name === 'gru')!.points).toHaveLength(2);
        appendFileSync(metrics, `${JSON.stringify({ epoch: 3, train_ppl: 9.5, val_ppl: 10.25 })}\n`);
      }
      return ev.some((e) => e.event === 'runs' && (e.data as { name: string; points: { epoch: number }[] }[]).some((r) => r.points.some((p) => p.epoch === 3)));
    });
    expect(events[events.length - 1]!.data).toEqual([{ name: 'gru', reset: false, points: [{ epoch: 3, trainPpl: 9.5, valPpl: 10.25 }] }]);
  });

  // Before, events for a client that did not read were queued without end: 100 paused
  // streams and a long run's metrics took the server from 0.3 to 2.2 GB.
  it('closes the event stream of a client that does not read, once megabytes wait for it', async () => {
    const own = path.join(root, 'backlog');
    mkdirSync(own);
    const runs = await startServe([own]);
    try {
      const sock = net.connect(runs.port, '127.0.0.1');
      let received = 0;
      const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
      sock.on('data', (d: Buffer) => {
        received += d.length;
      });
      sock.on('error', () => {});
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      sock.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${runs.port}\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 300));
      sock.pause();
      // a run's metrics growing by about 1 MB of epochs a poll, for a few seconds
      const metrics = path.join(own, 'long.metrics.jsonl');
      const line = (e: number) => `${JSON.stringify({ epoch: e, train_ppl: 9.5 + e * 1e-6, val_ppl: 10.25 + e * 1e-6 })}\n`;
      let epoch = 0;
      let written = 0;
      while (written < 24e6) {
        const block = Array.from({ length: 15_000 }, () => line(++epoch)).join('');
        appendFileSync(metrics, block);
        written += block.length;
        await new Promise((r) => setTimeout(r, 150));
      }
      sock.resume();
      const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 15_000))]);
      sock.destroy();
      expect(outcome).toBe('closed');
      expect(received).toBeLessThan(written);
      // the server goes on
      const state = await request(runs.port, '/api/state');
      expect(state.status).toBe(200);
      expect(runs.stderr()).toBe('');
    } finally {
      await runs.stop();
    }
  }, 60_000);

  it('serves a checkpoint given by name, its directory with it', async () => {
    const one = await startServe([path.join(dir, 'gru.safetensors')]);
    expect(one.stdout()).toBe(`serving ${dir} at ${one.url} (playground: gru.safetensors); Ctrl-C stops\n`);
    expect(json((await request(one.port, '/api/state')).body).selected).toBe('gru.safetensors');
    expect(await one.stop()).toBe(0);
  });

  it('a checkpoint given by a link that leads out of its directory serves the directory of the file it leads to; a hidden name is refused', async () => {
    // Before, the page was told to open link.safetensors, which the server refused (it leads out), and opened another.
    const linked = await startServe([path.join(dir, 'link.safetensors')]);
    expect(linked.stdout()).toBe(`serving ${root} at ${linked.url} (playground: secret.safetensors); Ctrl-C stops\n`);
    const state = json((await request(linked.port, '/api/state')).body) as { selected: string; checkpoints: { name: string }[] };
    expect(state.selected).toBe('secret.safetensors');
    expect(state.checkpoints.map((c) => c.name)).toContain('secret.safetensors');
    expect(await linked.stop()).toBe(0);
    // a link out of its directory to a file that is no checkpoint's name
    const odd = tmpDir();
    symlinkSync(path.join(root, 'secret.txt'), path.join(odd, 'odd.safetensors'));
    const o = await cli(['serve', path.join(odd, 'odd.safetensors'), '--port', '0']);
    expect({ code: o.code, err: o.stderr }).toEqual({ code: 2,
      err: `deeprnn: error: ${path.join(odd, 'odd.safetensors')} leads to ${path.join(root, 'secret.txt')}, which is no .safetensors checkpoint\n` });
    const hidden = path.join(tmpDir(), '.hidden.safetensors');
    writeFileSync(hidden, readFileSync(path.join(dir, 'gru.safetensors')));
    const r = await cli(['serve', hidden, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`deeprnn: error: ${hidden}: the page lists no hidden files (names that begin with "."); give the checkpoint another name\n`);
  });

  it("one file under two names: each name's info is its own (before, the name asked first named both)", async () => {
    const two = tmpDir();
    writeFileSync(path.join(two, 'gru.safetensors'), readFileSync(path.join(dir, 'gru.safetensors')));
    symlinkSync(path.join(two, 'gru.safetensors'), path.join(two, 'alias.safetensors'));
    const s2 = await startServe([two]);
    const names = [];
    for (const name of ['gru.safetensors', 'alias.safetensors', 'gru.safetensors']) {
      names.push((json((await request(s2.port, `/api/info?name=${name}`)).body) as { name: string }).name);
    }
    expect(await s2.stop()).toBe(0);
    expect(names).toEqual(['gru.safetensors', 'alias.safetensors', 'gru.safetensors']);
  });

  it('answers a request with two Host headers 400, whatever they say (before, the first was taken)', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      let got = '';
      const sock = net.connect(served.port, '127.0.0.1', () => sock.write(
        `GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:${served.port}\r\nHost: deeprnn.example\r\nConnection: close\r\n\r\n`));
      sock.on('data', (d: Buffer) => (got += d.toString('utf8')));
      sock.on('end', () => resolve(got));
      sock.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('{"error":"the request has more than one Host header"}');
  });

  it('refuses what it cannot serve before it listens: an empty target, a directory it cannot read', async () => {
    const empty = await cli(['serve', '']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe('deeprnn: error: serve needs a checkpoint or a directory of runs, got ""\n');
    chmodSync(root, 0o755);  // (the user the check runs as reaches it)
    const locked = path.join(root, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o000);
    try {
      const r = await cliAsUser(['serve', locked, '--port', '0']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`deeprnn: error: ${locked} cannot be read (EACCES): the server lists its checkpoints and runs\n`);
    } finally {
      chmodSync(locked, 0o755);
    }
  });

  // (where the kernel lets any user take port 80, there is nothing to refuse)
  const privileged = (() => {
    try {
      return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim()) > 80;
    } catch {
      return false;
    }
  })();
  it.skipIf(process.platform !== 'linux' || !privileged)('says what a privileged port needs (before, "listen EACCES: permission denied")', async () => {
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
    const low = await cliAsUser(['serve', dir, '--port', '80']);
    expect(low.code).toBe(2);
    expect(low.stderr).toBe('deeprnn: error: port 80 on 127.0.0.1 cannot be listened on: permission denied '
      + '(a port below 1024 needs root or CAP_NET_BIND_SERVICE); choose another with --port\n');
  });

  it.skipIf(!IPV6)('--host [::1] is the IPv6 loopback address, as a URL writes it', async () => {
    const one = await startServe([dir, '--host', '[::1]']);
    expect(one.url).toMatch(/^http:\/\/\[::1\]:\d+\/$/);
    expect(one.stderr()).toBe('');
    await one.stop();
  });

  it('--host opens it to the network, with a warning', async () => {
    const open = await startServe([dir, '--host', '0.0.0.0']);
    expect(open.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/$/);
    expect(open.stderr()).toBe(`deeprnn: warning: listening on 0.0.0.0: anyone who can reach it can read the checkpoints and metrics under ${dir}\n`);
    // Any Host is answered when it is open.
    const state = await request(open.port, '/api/state', { headers: { Host: 'deeprnn.example' } });
    expect(state.status).toBe(200);
    // and the directory is named, not its path on this machine (on 127.0.0.1, the whole path)
    expect(json(state.body).dir).toBe(path.basename(dir));
    expect(json((await request(served.port, '/api/state')).body).dir).toBe(dir);
    await open.stop();
  });

  it.skipIf(process.platform !== 'linux')('closes each file it sends, also when the client goes away before the end', async () => {
    const pid = served.child.pid!;
    // Descriptors of the served process open on the WASM file (Linux's /proc).
    const openOnWasm = () => readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith('ort-wasm-simd-threaded.wasm');
      } catch {
        return false;  // closed since it was listed
      }
    }).length;
    const target = '/ort/ort-wasm-simd-threaded.wasm';
    for (let i = 0; i < 10; i++) {
      // The first bytes of the response, then the connection closed: the rest of the file is never read.
      await new Promise<void>((resolve, reject) => {
        const sock = net.connect(served.port, '127.0.0.1', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${served.port}\r\n\r\n`));
        sock.once('data', () => {
          sock.destroy();
          resolve();
        });
        sock.once('error', reject);
      });
    }
    for (let i = 0; i < 2; i++) expect((await request(served.port, target)).status).toBe(200);
    // The server sees each closed connection a moment after it closed.
    for (let wait = 0; wait < 100 && openOnWasm() > 0; wait++) await new Promise((r) => setTimeout(r, 50));
    expect(openOnWasm()).toBe(0);
    expect((await request(served.port, '/api/state')).status).toBe(200);
  });

  it('messages: a missing target, a path through a file, a link to nothing, a loop of links, a file that is not a checkpoint, a bad port, a port in use', async () => {
    const line = async (args: string[]) => {
      const r = await cli(['serve', ...args]);
      return { code: r.code, err: r.stderr.trim() };
    };
    const none = path.join(root, 'none');
    expect(await line([none])).toEqual({
      code: 2, err: `deeprnn: error: ${none} does not exist: name a checkpoint or a directory of runs (train one with "deeprnn train --out checkpoints/deeprnn.safetensors")`,
    });
    // each cause by its name (before, each of these "did not exist")
    const slash = `${path.join(dir, 'gru.safetensors')}/`;
    expect(await line([slash])).toEqual({
      code: 2, err: `deeprnn: error: ${slash}: a part of this path is a file, not a directory (a "/" after a checkpoint's name?): name a checkpoint or a directory of runs`,
    });
    const dangling = path.join(root, 'dangling.safetensors');
    symlinkSync(path.join(root, 'nothing.safetensors'), dangling);
    expect(await line([dangling])).toEqual({
      code: 2, err: `deeprnn: error: ${dangling} is a symbolic link to ${path.join(root, 'nothing.safetensors')}, which does not exist: name a checkpoint or a directory of runs`,
    });
    const loop = path.join(root, 'loop1');
    symlinkSync(path.join(root, 'loop2'), loop);
    symlinkSync(loop, path.join(root, 'loop2'));
    expect(await line([loop])).toEqual({ code: 2, err: `deeprnn: error: ${loop} is a loop of symbolic links: name a checkpoint or a directory of runs` });
    const long = path.join(root, 'x'.repeat(300));
    expect(await line([long])).toEqual({ code: 2, err: `deeprnn: error: ${long} cannot be looked at (ENAMETOOLONG)` });
    expect(await line([path.join(root, 'secret.txt')])).toEqual({
      code: 2, err: `deeprnn: error: ${path.join(root, 'secret.txt')} is neither a directory nor a .safetensors checkpoint`,
    });
    expect(await line([dir, '--port', '70000'])).toEqual({ code: 2, err: 'deeprnn: error: --port must be an integer from 0 to 65535, got "70000"' });
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      expect(await line([dir, '--port', String(port)])).toEqual({
        code: 2, err: `deeprnn: error: port ${port} on 127.0.0.1 is in use: choose another with --port (0 picks a free one)`,
      });
    } finally {
      blocker.close();
    }
  });
});
