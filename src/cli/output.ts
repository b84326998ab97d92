// What the commands print goes through here. A command builds records and a
// Report (or a RecordStream, for records that come one at a time); one
// renderer prints them in the format asked for: text (tables and labelled
// lines for the terminal), json (one JSON object per command) or csv (one row
// per record, where the output is tabular). The records' keys are the JSON and
// CSV names, camelCase in every command as in the library's objects, the
// checkpoint's metadata and NAME.metrics.jsonl. With json or csv, stdout
// carries the data and nothing else: notes and progress go to stderr.
//
// A reader that goes away (`deeprnn predict ... | head`) ends the command
// quietly; any other failure to write (a full disk, /dev/full) ends it with one
// line naming the stream and the cause, exit code 1, never a stack trace.
import { terminalSafe } from '../validate.js';
import { csvLine, formatNumber, renderCsv, renderTable } from './table.js';
import { inJob, launcherRank } from '../mpi.js';

export type Format = 'text' | 'json' | 'csv';

/** The standard output was closed by its reader: stop, with no message and exit code 0. */
export class OutputClosed extends Error {
  override readonly name = 'OutputClosed';
}

/** The standard output could not be written. */
export class OutputError extends Error {
  override readonly name = 'OutputError';
}

/** The line that reports a failed write to a standard stream. */
export function streamFailure(e: NodeJS.ErrnoException, stream: 'output' | 'error' = 'output'): string {
  return `cannot write to the standard ${stream} (${e.code ?? 'error'}: ${e.message.replace(/^[A-Z]+: /, '')})`;
}

/** Writes to stdout; throws when the stream has failed (so that a long loop stops at once). */
export function write(text: string): void {
  process.stdout.write(text);
  const e = process.stdout.errored as NodeJS.ErrnoException | null;
  if (e) throw e.code === 'EPIPE' ? new OutputClosed('the standard output was closed') : new OutputError(streamFailure(e));
}

/** Writes a warning line to stderr. */
export function warn(message: string): void {
  // Under a launcher a warning of another rank than 0 (its own --threads capped, say) says whose it is, as its errors do.
  const who = inJob() && launcherRank() !== 0 ? ` (rank ${launcherRank()})` : '';
  process.stderr.write(`deeprnn${who}: warning: ${terminalSafe(message)}\n`);
}

/** A line of notes or progress: on stdout with text, on stderr when stdout carries JSON or CSV. */
export function note(format: Format, line: string): void {
  if (format === 'text') write(`${line}\n`);
  else process.stderr.write(`${line}\n`);
}

/** A table's column: the record's key (its JSON and CSV name), the text table's header and cell. */
export interface Column<R> {
  key: keyof R & string;
  header: string;
  /** The text cell (default: textCell of the value). JSON and CSV hold the value itself. */
  text?: (row: R) => string;
  /** The text column's least width, cell and spaces (a streamed table's fixed width). */
  width?: number;
}

/** One figure of a labelled line ("val ppl 6.310"); a text of null leaves it out. */
export interface Field<R> {
  label?: string;
  text: (record: R) => string | null;
}

/** A value as a text cell: whole numbers whole, others by formatNumber, a list joined, null as "-". */
export function textCell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : formatNumber(v);
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

const cellOf = <R>(c: Column<R>, row: R): string => (c.text ? c.text(row) : textCell(row[c.key]));

/** A record as one line of labelled figures, two spaces apart: "epoch 3/100  train ppl 9.120  ...". */
export function fieldsLine<R>(fields: readonly Field<R>[], record: R): string {
  return fields.flatMap((f) => {
    const text = f.text(record);
    return text === null ? [] : [f.label ? `${f.label} ${text}` : text];
  }).join('  ');
}

/**
 * Records as a text table (each column as wide as its widest cell; `header:
 * false` leaves the header line out; `indent` starts every line) or as CSV
 * (the keys as the header, every value in full).
 */
export function renderRecords<R>(format: 'text' | 'csv', columns: readonly Column<R>[], rows: readonly R[],
  opts: { header?: boolean; indent?: string } = {}): string {
  if (format === 'csv') return renderCsv(columns.map((c) => c.key), rows.map((r) => columns.map((c) => r[c.key])));
  const text = renderTable(columns.map((c) => c.header), rows.map((r) => columns.map((c) => cellOf(c, r))), columns.map((c) => (c.width ?? 2) - 2));
  const lines = text.trimEnd().split('\n').slice(opts.header === false ? 1 : 0);
  return lines.map((l) => `${opts.indent ?? ''}${l}`).join('\n') + '\n';
}

/** What a command prints, in each of its formats. */
export interface Report<R = never> {
  /** The command's one JSON object. */
  json: object;
  /** The terminal's text. */
  text: () => string;
  /** Where the output is tabular: the records --format csv prints. */
  csv?: { columns: readonly Column<R>[]; rows: readonly R[] };
}

/** A report as the format prints it. */
export function render<R>(report: Report<R>, format: Format): string {
  if (format === 'json') return JSON.stringify(report.json) + '\n';
  if (format === 'text') return report.text();
  if (!report.csv) throw new Error('this output is not tabular: there is no CSV form of it');
  return renderRecords('csv', report.csv.columns, report.csv.rows);
}

/** Prints a report on stdout. */
export function emit<R>(report: Report<R>, format: Format): void {
  write(render(report, format));
}

/**
 * Records printed as they come, each at once (bench's rows, predict's
 * samples): text rows under a header, each column padded to its width; CSV
 * rows under the keys; or one JSON object, `json.head`'s fields and then the
 * records as the list `json.key`, written whole by end(): a command stopped or
 * failed part way leaves nothing of it on stdout.
 */
export class RecordStream<R> {
  private begun = false;
  private readonly records: R[] = [];

  constructor(
    private readonly format: Format,
    private readonly opts: {
      /** The text table's columns, and CSV's when csvColumns is not given. */
      columns: readonly Column<R>[];
      csvColumns?: readonly Column<R>[];
      json: { head: object; key: string };
    },
  ) {}

  /** The header of a text table or of CSV, before the first record comes (JSON starts with it). */
  begin(): void {
    if (this.begun) return;
    this.begun = true;
    if (this.format === 'text') write(this.textRow(this.opts.columns.map((c) => c.header)));
    if (this.format === 'csv') write(csvLine(this.csvColumns().map((c) => c.key)));
  }

  add(record: R): void {
    this.begin();
    const { columns } = this.opts;
    if (this.format === 'json') {
      // Kept until end(): a run stopped part way (Ctrl-C) leaves nothing on stdout rather than half an object.
      this.records.push(record);
    } else if (this.format === 'csv') {
      write(csvLine(this.csvColumns().map((c) => record[c.key])));
    } else {
      write(this.textRow(columns.map((c) => cellOf(c, record))));
    }
  }

  /** Writes the JSON object, the head and the records' list, whole (text and CSV rows went out as they came). */
  end(): void {
    if (this.format !== 'json') return;
    // The bytes of JSON.stringify({ ...head, [key]: records }), written a record at a time:
    // records that together pass the longest string (generated samples) still go out whole.
    const { head, key } = this.opts.json;
    const start = JSON.stringify({ ...head, [key]: [] });
    write(start.slice(0, -2));
    this.records.forEach((r, i) => write((i ? ',' : '') + JSON.stringify(r)));
    write(']}\n');
  }

  private csvColumns(): readonly Column<R>[] {
    return this.opts.csvColumns ?? this.opts.columns;
  }

  private textRow(cells: string[]): string {
    const widths = this.opts.columns.map((c) => c.width ?? c.header.length + 2);
    return cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(Math.max(widths[i]!, cell.length + 2)))).join('') + '\n';
  }
}
