// The keys of what the commands print, for the check that every command and
// NAME.metrics.jsonl name their fields in one style (camelCase).

/** camelCase: a lower-case letter, then letters and digits. */
export const CAMEL_CASE = /^[a-z][a-zA-Z0-9]*$/;

/**
 * Every key in a JSON value, as PATH.KEY, except the keys of the objects at
 * `dataPaths` (maps whose keys are data, such as eval's corpus names).
 */
export function jsonKeys(v: unknown, dataPaths: readonly string[] = [], at = '$'): { path: string; key: string }[] {
  if (Array.isArray(v)) return v.flatMap((x) => jsonKeys(x, dataPaths, `${at}[]`));
  if (typeof v !== 'object' || v === null) return [];
  return Object.entries(v).flatMap(([k, x]) => {
    const isData = dataPaths.includes(at);
    return [...(isData ? [] : [{ path: at, key: k }]), ...jsonKeys(x, dataPaths, isData ? `${at}.*` : `${at}.${k}`)];
  });
}

/** The keys that are not camelCase, as PATH.KEY (empty when all are). */
export function notCamelCase(v: unknown, dataPaths: readonly string[] = []): string[] {
  return jsonKeys(v, dataPaths).filter(({ key }) => !CAMEL_CASE.test(key)).map(({ path, key }) => `${path}.${key}`);
}
