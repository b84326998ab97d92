// `deeprnn serve` in a child process for tests: started on a free port,
// stopped after the file's tests; and raw HTTP requests whose paths reach the
// server exactly as written (no client-side normalisation of "..").
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { afterAll } from 'vitest';
import { BIN, DATA_DIR } from './paths.js';

export interface ServeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

// Every server this file's tests start, stopped after them. Registered here, at
// the importing file's top level: an afterAll called from inside a beforeAll
// or a test is not run, and left the servers running after the suite.
const running = new Set<ChildProcess>();
afterAll(async () => {
  await Promise.all([...running].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.on('close', () => resolve());
    child.kill('SIGTERM');
  })));
});
// And if the worker ends without its hooks (a timeout, a crash).
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts `deeprnn serve ARGS --port 0` and resolves with its URL once it listens; stopped after the file's tests. */
export function startServe(args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--port', '0'], {
    env: { ...process.env, DEEPRNN_DATA_DIR: DATA_DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  running.add(child);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    running.delete(child);
    resolve(code);
  }));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`deeprnn serve did not start in 30 s: ${out}${err}`)), 30_000);
    const check = () => {
      const m = /at (http:\/\/[^\s]+?:(\d+)\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, port: Number(m[2]), child, stdout: () => out, stderr: () => err, stop });
      }
    };
    child.stdout!.on('data', check);
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`deeprnn serve exited with ${code}: ${out}${err}`));
    });
  });
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request with the path sent as written. */
export function request(port: number, target: string, opts: { method?: string; headers?: Record<string, string>; host?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: opts.host ?? '127.0.0.1', port, path: target, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads server-sent events from `target` until `until` returns true for the events so far (or the time runs out). */
export function readEvents(port: number, target: string, until: (events: { event: string; data: unknown }[]) => boolean, ms = 20_000):
  Promise<{ event: string; data: unknown }[]> {
  return new Promise((resolve, reject) => {
    const events: { event: string; data: unknown }[] = [];
    const req = http.get({ host: '127.0.0.1', port, path: target }, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
        if (until(events)) {
          clearTimeout(timer);
          req.destroy();
          resolve(events);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`the events did not come in ${ms} ms: ${JSON.stringify(events)}`));
    }, ms);
    req.on('error', (e) => {
      if (!req.destroyed) reject(e);
    });
  });
}
