// The one renderer of the command line: text tables, labelled lines, CSV
// cells, and records streamed as text, CSV or one JSON object.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fieldsLine, RecordStream, render, renderRecords, textCell, type Column, type Format } from '../../src/cli/output.js';
import { csvCell, formatNumber } from '../../src/cli/table.js';

interface Row {
  name: string;
  value: number;
  note: string | null;
}
const COLUMNS: Column<Row>[] = [
  { key: 'name', header: 'name', width: 8 },
  { key: 'value', header: 'value', text: (r) => formatNumber(r.value, 1) },
  { key: 'note', header: 'note' },
];
const ROWS: Row[] = [{ name: 'a', value: 1.25, note: 'x, "y"' }, { name: 'long-name', value: Infinity, note: null }];

/** What a RecordStream writes to stdout. */
function streamed(format: Format, rows: Row[]): string {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    const s = new RecordStream<Row>(format, { columns: COLUMNS, json: { head: { what: 'rows' }, key: 'rows' } });
    s.begin();
    for (const r of rows) s.add(r);
    s.end();
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('the renderer', () => {
  it('writes CSV cells in full, quoting what needs it', () => {
    expect([1.5, 2, NaN, Infinity, -Infinity, null, undefined, true, 'plain', 'a,b', 'say "hi"', ' lead', 'two\nlines', [24, 28], { a: 1 }].map(csvCell))
      .toEqual(['1.5', '2', 'nan', 'inf', '-inf', '', '', 'true', 'plain', '"a,b"', '"say ""hi"""', '" lead"', '"two\nlines"', '"[24,28]"', '"{""a"":1}"']);
  });

  it('renders records as a text table (each column as wide as it needs) or CSV (the keys as header)', () => {
    expect(renderRecords('text', COLUMNS, ROWS)).toBe(
      'name       value  note\n'
      + 'a          1.3    x, "y"\n'
      + 'long-name  inf    -\n',
    );
    expect(renderRecords('text', COLUMNS, ROWS, { header: false, indent: '  ' })).toBe('  a          1.3    x, "y"\n  long-name  inf    -\n');
    expect(renderRecords('csv', COLUMNS, ROWS)).toBe('name,value,note\na,1.25,"x, ""y"""\nlong-name,inf,\n');
    expect([3, 0.5, null, ['a', 'b'], 'x'].map(textCell)).toEqual(['3', '0.500', '-', 'a, b', 'x']);
  });

  it('renders a report in each format, and has no CSV for one that is not tabular', () => {
    const report = { json: { n: 2, ok: true, bad: NaN }, text: () => 'two\n', csv: { columns: COLUMNS, rows: ROWS } };
    expect(render(report, 'json')).toBe('{"n":2,"ok":true,"bad":null}\n');
    expect(render(report, 'text')).toBe('two\n');
    expect(render(report, 'csv')).toBe(renderRecords('csv', COLUMNS, ROWS));
    expect(() => render({ json: {}, text: () => '' }, 'csv')).toThrow('this output is not tabular: there is no CSV form of it');
  });

  it('writes a record as labelled figures, leaving out those without text', () => {
    const fields = [{ label: 'epoch', text: (r: Row) => `${r.name}/9` }, { text: (r: Row) => `${r.value}s` }, { label: 'note', text: (r: Row) => r.note }];
    expect(fieldsLine(fields, ROWS[0]!)).toBe('epoch a/9  1.25s  note x, "y"');
    expect(fieldsLine(fields, ROWS[1]!)).toBe('epoch long-name/9  Infinitys');
  });

  it('streams records: text rows at fixed widths, CSV rows, one JSON object', () => {
    expect(streamed('text', ROWS)).toBe('name    value  note\na       1.3    x, "y"\nlong-name  inf    -\n');
    expect(streamed('csv', ROWS)).toBe(renderRecords('csv', COLUMNS, ROWS));
    const json = streamed('json', ROWS);
    expect(json.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(json)).toEqual({ what: 'rows', rows: [ROWS[0], { ...ROWS[1], value: null }] });
    expect(JSON.parse(streamed('json', []))).toEqual({ what: 'rows', rows: [] });
    expect(streamed('csv', [])).toBe('name,value,note\n');
  });

  it('writes the JSON object whole at the end: a command stopped part way (Ctrl-C) leaves nothing of it on stdout', () => {
    // Before, the head and each record went out as they came, and a stop left half an object.
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    const s = new RecordStream<Row>('json', { columns: COLUMNS, json: { head: { what: 'rows' }, key: 'rows' } });
    s.begin();
    s.add(ROWS[0]!);
    expect(out).toBe('');
    s.end();
    expect(JSON.parse(out)).toEqual({ what: 'rows', rows: [ROWS[0]] });
  });
});

describe('terminalSafe', () => {
  it('writes control characters as \\uXXXX, so that a file\'s strings cannot begin a line or move the cursor in a message', async () => {
    const { terminalSafe } = await import('../../src/validate.js');
    expect(terminalSafe('a\nb\u001b[2J\rc\u007f\u0085\u2028 é\t')).toBe('a\\u000ab\\u001b[2J\\u000dc\\u007f\\u0085\\u2028 é\t');
    expect(terminalSafe('plain text, "quoted"')).toBe('plain text, "quoted"');
  });
});
