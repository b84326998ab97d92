// deeprnn serve's HTTP server: the page, its scripts and ONNX Runtime's WASM;
// the checkpoints of the served directory (info, ONNX export, card); the runs'
// metrics, whole and then live as server-sent events. Read-only: GET and HEAD
// only, nothing written; names from requests resolve inside the directory or
// are refused (paths.ts). Bound to loopback, it answers only requests whose
// Host is a loopback name (a page elsewhere cannot reach it through DNS
// rebinding).
import { closeSync, createReadStream, fstatSync, openSync, realpathSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { InputError } from '../errors.js';
import { findAssets, MIME, type Assets } from './assets.js';
import { Catalog } from './catalog.js';
import { BadRequest, pathSegments, Refused, resolveInside } from './paths.js';
import { listCheckpoints, listedName, RunsWatcher, throughLinkedDirectory, type RunUpdate } from './runs.js';
import type { Duplex } from 'node:stream';
import { terminalSafe } from '../validate.js';

export interface ServeOptions {
  /** The served directory. */
  dir: string;
  /** The checkpoint the page opens with (relative to dir), if any. */
  selected?: string;
  host: string;
  port: number;
  /** How often runs are polled while a page listens, in ms. */
  pollMs?: number;
}

export interface Served {
  url: string;
  /** Why the playground cannot run (ONNX Runtime Web missing), or null. */
  playgroundOff: string | null;
  server: http.Server;
  /** Bound to a loopback address (decided from the address bound, whatever --host's spelling). */
  loopback: boolean;
  close(): Promise<void>;
}

/** A Content-Security-Policy that lets the page load only from this server (WASM compiled from its own file). */
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Bytes of events waiting for a client that does not read, past which its stream is closed. */
export const EVENT_BACKLOG = 4 << 20;

/** Whether a bound address (server.address().address) is loopback: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address) || /^::ffff:127\.\d+\.\d+\.\d+$/i.test(address);
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: string | Buffer, type: string, head = false): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}

function sendJSON(res: http.ServerResponse, value: unknown, head: boolean, status = 200): void {
  send(res, status, JSON.stringify(value), MIME['.json']!, head);
}

export async function startServer(opts: ServeOptions): Promise<Served> {
  const assets: Assets = findAssets();
  const dir = opts.dir;
  const catalog = new Catalog();
  const watcher = new RunsWatcher(dir);
  watcher.poll();
  const listeners = new Set<(updates: RunUpdate[], checkpoints: boolean) => void>();
  let lastListing = JSON.stringify(listCheckpoints(dir));
  const pollMs = opts.pollMs ?? 250;
  let pollFailure = '';
  /**
   * One look at the directory: what changed goes to every open event stream.
   * The timer's, and /api/runs' (before, that one's changes were dropped: a
   * page open then never got the epochs or runs it found).
   */
  const pollAndSend = () => {
    // What the directory holds cannot end the server: a poll that fails is said once, and the next tries again.
    let updates: RunUpdate[];
    let changed: boolean;
    try {
      updates = watcher.poll();
      const listing = JSON.stringify(listCheckpoints(dir));
      changed = listing !== lastListing;
      lastListing = listing;
      pollFailure = '';
    } catch (e) {
      const message = (e as Error).message;
      if (message !== pollFailure) process.stderr.write(`deeprnn: warning: serve: ${terminalSafe(`could not look at ${dir} for changes (${message}); trying again`)}\n`);
      pollFailure = message;
      return;
    }
    if (changed) catalog.prune();
    if (updates.length || changed) for (const l of listeners) l(updates, changed);
  };
  const timer = setInterval(() => {
    if (listeners.size > 0) pollAndSend();
  }, pollMs);
  timer.unref();

  let boundPort = opts.port;
  // The served directory's absolute paths, as messages would show them: cut off.
  const prefixes = [...new Set([realpathSync.native(dir), path.resolve(dir)])].map((d) => d + path.sep);
  const inside = (message: string) => prefixes.reduce((m, p) => m.split(p).join(''), message);
  let loopback = true;  // set from the address bound, before any request
  let names = new Set(LOOPBACK_HOSTS);
  /** `given`: the host of an absolute-form target, which stands for the Host header (RFC 9112, 3.2.2). */
  const checkHost = (req: http.IncomingMessage, given?: string) => {
    // More than one Host header is a bad request (RFC 9112, 3.2), whatever they say (Node keeps the first).
    if (req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host').length > 1) {
      throw new HttpError(400, 'the request has more than one Host header');
    }
    if (!loopback) return;
    const raw = given ?? req.headers.host ?? '';
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(raw.toLowerCase());
    // The usual loopback names, the address bound and --host as given (127.0.0.2, 127.1 and LOCALHOST are loopback too).
    if (!m || !names.has(m[1]!) || (m[2] !== undefined && Number(m[2]) !== boundPort)) {
      const what = given === undefined ? 'the Host header' : "the request target's host";
      throw new HttpError(403, `refused: ${what} ${JSON.stringify(raw)} is not this server's loopback address`);
    }
  };

  /** The checkpoint a ?name= names, resolved inside the directory. */
  const named = (query: URLSearchParams): { file: string; name: string } => {
    const name = query.get('name');
    if (name === null) throw new HttpError(400, 'missing ?name=CHECKPOINT (a path relative to the served directory)');
    if (!name.endsWith('.safetensors')) throw new Refused(`refused ${JSON.stringify(name)}: only .safetensors checkpoints are served`);
    // (a name that leaves the directory is refused as such first)
    const file = resolveInside(dir, name);
    // Only what the lists could hold (no hidden part, no node_modules, at most two directories down, no
    // directory reached through a link, which the lists do not walk into), and said as a missing file is,
    // so that the answer tells nothing of what is there.
    if (!listedName(name) || throughLinkedDirectory(dir, name)) throw new HttpError(404, 'not found');
    return { file, name };
  };

  const state = () => ({
    // (the whole path for this machine's own page; on a network, the directory's name alone)
    dir: loopback ? path.resolve(dir) : path.basename(path.resolve(dir)),
    selected: opts.selected ?? null,
    playground: assets.ortMissing === null ? { available: true } : { available: false, reason: assets.ortMissing },
    checkpoints: listCheckpoints(dir),
  });

  const events = (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    // A client that does not read (a paused tab, a stalled connection) would have every
    // event queued for it without end: past EVENT_BACKLOG bytes waiting beyond the first
    // snapshot (which a slow link may still be reading), its stream is closed
    // (EventSource connects again, and gets a snapshot of the runs then).
    let allowance = EVENT_BACKLOG;
    const emit = (event: string, data: unknown) => {
      if (res.writableLength > allowance) {
        res.destroy();
        return;
      }
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    emit('runs', watcher.snapshot());
    allowance += res.writableLength;
    const listener = (updates: RunUpdate[], checkpoints: boolean) => {
      if (updates.length) emit('runs', updates);
      if (checkpoints) emit('checkpoints', listCheckpoints(dir));
    };
    listeners.add(listener);
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    beat.unref();
    req.on('close', () => {
      clearInterval(beat);
      listeners.delete(listener);
    });
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    // A target in absolute form ("http://127.0.0.1:8080/api/state", as a proxy
    // sends it): its authority is checked as the Host header is, and its path
    // is the target, taken as sent (not resolved by a URL parser).
    let target = req.url ?? '/';
    const absolute = /^http:\/\/([^/?#]*)(.*)$/i.exec(target);
    if (absolute) target = absolute[2]!.startsWith('/') ? absolute[2]! : `/${absolute[2]}`;
    checkHost(req, absolute ? absolute[1] : undefined);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new HttpError(405, `${req.method} is not allowed: this server is read-only`);
    }
    const head = req.method === 'HEAD';
    if (!target.startsWith('/')) throw new HttpError(400, 'the request target must be a path or an http:// URL');
    // The path as sent, decoded once and checked before anything else: no ".." of
    // any encoding reaches a route (a URL parser would quietly resolve "/a/../b").
    const q = target.indexOf('?');
    const segments = pathSegments(q < 0 ? target : target.slice(0, q));
    const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
    const route = '/' + segments.join('/');
    const file = assets.files.get(route);
    if (file) {
      const headers = (size: number) => ({ 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': size, 'Cache-Control': 'no-cache' });
      if (head) {
        res.writeHead(200, headers(statSync(file).size));
        res.end();
        return;
      }
      // Opened here, so that a file that cannot be opened (no descriptor left)
      // is answered as any read error is; then sent by pipeline, which closes
      // the file when the response ends, fails, or the client goes away before
      // the end (pipe() left it open then, one descriptor per download, until
      // the process had none left and a stream's error ended it).
      const fd = openSync(file, 'r');
      let size: number;
      try {
        size = fstatSync(fd).size;
      } catch (e) {
        closeSync(fd);
        throw e;
      }
      res.writeHead(200, headers(size));
      if (size === 0) {
        closeSync(fd);
        res.end();
        return;
      }
      // (the bytes it had when the headers said how many: a file that grows meanwhile is not sent past them)
      pipeline(createReadStream(file, { fd, start: 0, end: size - 1 }), res, () => {
        // (an error after the headers: the response is cut short, which the client sees)
      });
      return;
    }
    switch (route) {
      case '/api/state':
        return sendJSON(res, state(), head);
      case '/api/runs':
        pollAndSend();
        return sendJSON(res, watcher.snapshot(), head);
      case '/api/events':
        if (head) return send(res, 200, '', 'text/event-stream', true);
        return events(req, res);
      case '/api/info': {
        const { file: f, name } = named(query);
        return sendJSON(res, catalog.info(f, name), head);
      }
      case '/api/card': {
        const { file: f } = named(query);
        return sendJSON(res, catalog.onnx(f).card, head);
      }
      case '/api/model.onnx': {
        const { file: f } = named(query);
        // (the cached export itself, not a copy of it per download)
        const { bytes } = catalog.onnx(f);
        return send(res, 200, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), MIME['.onnx']!, head);
      }
      default:
        throw new HttpError(404, `not found: ${route}`);
    }
  };

  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const status = e instanceof HttpError ? e.status
        : e instanceof Refused ? 403
          : e instanceof BadRequest ? 400
            : err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'ENAMETOOLONG' || err.code === 'ELOOP' ? 404
              : e instanceof InputError ? 422
                : 500;
      // A system error's message holds the file's absolute path: the client gets its code alone, and a
      // checkpoint's error names it by its path inside the directory.
      const message = status === 404 && !(e instanceof HttpError) ? 'not found'
        : status === 500 && err.code ? `the server could not read the file (${err.code})` : inside(err.message);
      if (res.headersSent) res.destroy();
      else sendJSON(res, { error: message }, req.method === 'HEAD', status);
    }
  });
  // CONNECT is not a request the handler above sees: answered 405 as any other method is (before, the
  // connection was closed without an answer).
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify({ error: 'CONNECT is not allowed: this server is read-only' });
    socket.on('error', () => {});
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Type: application/json; charset=utf-8\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  boundPort = address.port;
  loopback = isLoopbackAddress(address.address);
  const bracket = (h: string) => (h.includes(':') ? `[${h.toLowerCase()}]` : h.toLowerCase());
  // Each also as a URL writes it, as a browser sends it (before, --host ::ffff:127.0.0.1 printed a URL whose
  // requests came as [::ffff:7f00:1] and were refused)
  const asUrl = (h: string) => {
    try {
      return new URL(`http://${h}/`).hostname;
    } catch {
      return h;
    }
  };
  names = new Set([...LOOPBACK_HOSTS, bracket(address.address), bracket(opts.host)].flatMap((h) => [h, asUrl(h)]));
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${shownHost}:${boundPort}/`,
    playgroundOff: assets.ortMissing,
    server,
    loopback,
    close: () => new Promise<void>((resolve) => {
      clearInterval(timer);
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
