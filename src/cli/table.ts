// Tables: text for the terminal, every column as wide as its widest cell plus
// two spaces, so that no two cells run together, and numbers in a fixed,
// readable form; and CSV, every value in full.

/** A number as a table shows it: `digits` decimals, or 4 significant digits in exponent form from 1e6 on; inf and nan spelled out. */
export function formatNumber(v: number, digits = 3): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return Math.abs(v) >= 1e6 ? v.toExponential(3) : v.toFixed(digits);
}

/** The header and rows as lines of left-aligned columns, each at least `minWidths[c]` wide; the last column is not padded. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], minWidths: readonly number[] = []): string {
  const widths = header.map((h, c) => rows.reduce((w, r) => Math.max(w, (r[c] ?? '').length), Math.max(h.length, minWidths[c] ?? 0)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]! + 2))).join('');
  return [header, ...rows].map(line).join('\n') + '\n';
}

/**
 * A value as a CSV cell (RFC 4180): numbers in full (inf, -inf and nan spelled
 * out), true/false, nothing for null; a list or an object as its JSON; a cell
 * with a comma, a double quote, a line break or spaces at its ends quoted, its
 * quotes doubled.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? 'nan' : Number.isFinite(v) ? String(v) : v > 0 ? 'inf' : '-inf';
  const s = typeof v === 'string' ? v : typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line, with its line break. */
export const csvLine = (cells: readonly unknown[]): string => `${cells.map(csvCell).join(',')}\n`;

/** A header line and one line per row. */
export function renderCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [header, ...rows].map(csvLine).join('');
}
