// What deeprnn serve may read: files inside the served directory, named by
// paths relative to it. Every name from a request passes through here; a name
// that leaves the directory (`..`, an absolute path, a backslash, a NUL, a
// symlink that leads out) is refused, however it was encoded.
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';

/** A request for something outside what the server serves: answered 403. */
export class Refused extends Error {
  override name = 'Refused';
}

/** A malformed request (bad percent-encoding): answered 400. */
export class BadRequest extends Error {
  override name = 'BadRequest';
}

/**
 * The segments of a URL path, percent-decoded once. A segment that is "." or
 * ".." after decoding, or holds a backslash or NUL, is refused: no route has
 * one, so none is ever a file name to look up.
 */
export function pathSegments(pathname: string): string[] {
  const raw = pathname.split('/').slice(1);
  return raw.map((s) => {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      throw new BadRequest(`the path ${JSON.stringify(pathname)} is not valid percent-encoding`);
    }
    checkName(d, pathname);
    return d;
  });
}

/** Refuses a decoded path piece that could leave a directory. */
function checkName(piece: string, shown: string): void {
  if (piece.includes('\0') || piece.includes('\\')) throw new Refused(`refused ${JSON.stringify(shown)}: a NUL or backslash in a path`);
  for (const seg of piece.split('/')) {
    if (seg === '..' || seg === '.') throw new Refused(`refused ${JSON.stringify(shown)}: the path leaves the served directory`);
  }
}

/**
 * The file `rel` (a '/'-separated path relative to `root`, as a query
 * parameter gives it, already decoded once) names inside `root`: refused when
 * it is absolute, has a "." or ".." segment, a backslash or a NUL, or leads
 * (through symlinks) outside `root`. Returns the real path; a missing file is
 * an ENOENT error.
 */
export function resolveInside(root: string, rel: string, realRoot = realpathSync.native(root)): string {
  if (rel === '' || rel.startsWith('/') || path.isAbsolute(rel)) throw new Refused(`refused ${JSON.stringify(rel)}: not a path relative to the served directory`);
  checkName(rel, rel);
  const real = realpathSync.native(path.join(realRoot, ...rel.split('/')));
  if (!isInside(realRoot, real)) throw new Refused(`refused ${JSON.stringify(rel)}: it leads outside the served directory`);
  if (!statSync(real).isFile()) throw Object.assign(new Error(`${rel} is not a regular file`), { code: 'ENOENT' });
  return real;
}

/** Whether `p` is `root` or lies under it (both real, absolute). */
export function isInside(root: string, p: string): boolean {
  const r = path.relative(root, p);
  return r === '' || (r !== '..' && !r.startsWith(`..${path.sep}`) && !path.isAbsolute(r));
}
