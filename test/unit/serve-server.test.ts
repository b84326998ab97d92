// deeprnn serve's server in this process (startServer), where a test can hold
// its poll timer still: what a request for the runs finds reaches the open
// event streams; CONNECT is answered; the routes serve only the names the
// lists could hold; a metrics file it cannot open is said once on stderr.
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';
import { startServer, type Served } from '../../src/serve/server.js';
import { RunsWatcher } from '../../src/serve/runs.js';
import { readEvents, request } from '../helpers/serve.js';
import { tmpDir } from '../helpers/tmp.js';
import { ROOT } from '../helpers/paths.js';

const dir = tmpDir();
// Whether this machine binds IPv6 addresses (a network namespace may have none).
const IPV6 = await new Promise<boolean>((resolve) => {
  const probe = net.createServer().once('error', () => resolve(false)).listen(0, '::ffff:127.0.0.1', () => probe.close(() => resolve(true)));
});
let served: Served;
let port: number;
const line = (e: number) => `${JSON.stringify({ epoch: e, trainPpl: 10 - e / 10, valPpl: 11 - e / 10 })}\n`;

beforeAll(async () => {
  writeFileSync(path.join(dir, 'a.metrics.jsonl'), line(1));
  // (the timer never fires here: only requests poll)
  served = await startServer({ dir, host: '127.0.0.1', port: 0, pollMs: 1e9 });
  port = (served.server.address() as net.AddressInfo).port;
});
afterAll(() => served.close());

describe('deeprnn serve, in this process', () => {
  it('a poll made for GET /api/runs sends what it found to the open event streams (before, dropped: a gap in the curve, a run missing)', async () => {
    const events = readEvents(port, '/api/events', (ev) => ev.some((e) => e.event === 'runs' && (e.data as { name: string }[]).some((r) => r.name === 'b')));
    // the stream's first snapshot, then the changes
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(path.join(dir, 'a.metrics.jsonl'), line(2));
    writeFileSync(path.join(dir, 'b.metrics.jsonl'), line(1));
    const runs = JSON.parse((await request(port, '/api/runs')).body.toString()) as { name: string; points: unknown[] }[];
    expect(runs.map((r) => [r.name, r.points.length])).toEqual([['a', 2], ['b', 1]]);
    const got = await events;
    expect(got.slice(1)).toEqual([{ event: 'runs', data: [
      { name: 'a', reset: false, points: [{ epoch: 2, trainPpl: 9.8, valPpl: 10.8 }] },
      { name: 'b', reset: true, points: [{ epoch: 1, trainPpl: 9.9, valPpl: 10.9 }] },
    ] }]);
  });

  it('answers CONNECT 405, as any method but GET and HEAD (before, the connection was closed without an answer)', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(`CONNECT example.com:443 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
      let got = '';
      s.setEncoding('utf8').on('data', (d: string) => (got += d)).on('end', () => resolve(got)).on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n/);
    expect(answer).toContain('{"error":"CONNECT is not allowed: this server is read-only"}');
  });

  it('serves no checkpoint the lists leave out: hidden, in node_modules, or more than two directories down (before, its info and weights)', async () => {
    const tok = Tokenizer.fit('char', 'the time machine');
    const model = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [4], dropout: 0 }, new Rng(1));
    for (const rel of ['.h.safetensors', '.hid/m.safetensors', 'node_modules/m.safetensors', 'a/b/c/m.safetensors', 'a/b/m.safetensors']) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      model.save(path.join(dir, rel), { tokenizer: tok });
    }
    const listed = JSON.parse((await request(port, '/api/state')).body.toString()) as { checkpoints: { name: string }[] };
    expect(listed.checkpoints.map((c) => c.name)).toEqual(['a/b/m.safetensors']);
    expect((await request(port, '/api/info?name=a/b/m.safetensors')).status).toBe(200);
    // nor through a link to a directory, which the lists do not walk into
    symlinkSync('.hid', path.join(dir, 'alias'));
    symlinkSync(path.join('a', 'b', 'c'), path.join(dir, 'short'));
    for (const rel of ['.h.safetensors', '.hid/m.safetensors', 'node_modules/m.safetensors', 'a/b/c/m.safetensors', 'alias/m.safetensors', 'short/m.safetensors']) {
      for (const route of ['/api/info', '/api/model.onnx', '/api/card']) {
        const r = await request(port, `${route}?name=${encodeURIComponent(rel)}`);
        expect(r.status, `${route} ${rel}`).toBe(404);
        // said as a missing file is: the answer tells nothing of what is there
        expect(JSON.parse(r.body.toString()), `${route} ${rel}`).toEqual({ error: 'not found' });
      }
    }
  });

  it.skipIf(!IPV6)('bound to ::ffff:127.0.0.1, answers the Host a browser sends for it ([::ffff:7f00:1])', async () => {
    const mapped = await startServer({ dir, host: '::ffff:127.0.0.1', port: 0, pollMs: 1e9 });
    try {
      const p = (mapped.server.address() as net.AddressInfo).port;
      for (const host of ['[::ffff:7f00:1]', '[::ffff:127.0.0.1]', '127.0.0.1']) {
        expect((await request(p, '/api/state', { headers: { Host: `${host}:${p}` } })).status, host).toBe(200);
      }
      expect((await request(p, '/api/state', { headers: { Host: `evil.example:${p}` } })).status).toBe(403);
    } finally {
      await mapped.close();
    }
  });
});

describe('a metrics file the server cannot open', () => {
  it('is said once on stderr, and again only when the reason changes (before, its run was left out without a word)', () => {
    // As a user whom file permissions bind (nobody, when the tests run as root), in a process of its own.
    const own = tmpDir();
    chmodSync(own, 0o755);
    const file = path.join(own, 'p.metrics.jsonl');
    writeFileSync(file, line(1));
    chmodSync(file, 0o000);
    // and a name whose control characters could forge a line or clear the screen: written as \uXXXX
    const odd = path.join(own, 'q\n\u001b[2J.metrics.jsonl');
    writeFileSync(odd, line(1));
    chmodSync(odd, 0o000);
    const script = `const { RunsWatcher } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'serve', 'runs.js'))});
      const w = new RunsWatcher(${JSON.stringify(own)});
      const a = w.poll(), b = w.poll();
      process.stdout.write(JSON.stringify([a, b]));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8', ...(process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([[], []]);
    expect(r.stderr).toBe('deeprnn: warning: serve: cannot read p.metrics.jsonl (EACCES); its run is left out until it can be read\n'
      + 'deeprnn: warning: serve: cannot read q\\u000a\\u001b[2J.metrics.jsonl (EACCES); its run is left out until it can be read\n');
  });
});
