// The text tables of eval, compare and info: columns as wide as their widest
// cell, so that nothing runs together, and figures in a readable form.
import { describe, expect, it } from 'vitest';
import { formatNumber, renderTable } from '../../src/cli/table.js';

describe('text tables', () => {
  it('widens every column to its widest cell plus two spaces', () => {
    const t = renderTable(['corpus', 'tokens', 'perplexity'], [
      ['/a/very/long/path/to/some/corpus/crlf.txt', '173427', formatNumber(8.338333850395059e290)],
      ['x', '1', formatNumber(4.19512)],
    ]);
    expect(t).toBe(
      'corpus                                     tokens  perplexity\n'
      + '/a/very/long/path/to/some/corpus/crlf.txt  173427  8.338e+290\n'
      + 'x                                          1       4.195\n',
    );
  });

  it('keeps minimum widths, and writes large, infinite and undefined figures plainly', () => {
    expect(renderTable(['a', 'b'], [['1', '2']], [3])).toBe('a    b\n1    2\n');
    expect([999999.9994, 1e6, -2.5e7, Infinity, -Infinity, NaN, 0.12345].map((v) => formatNumber(v)))
      .toEqual(['999999.999', '1.000e+6', '-2.500e+7', 'inf', '-inf', 'nan', '0.123']);
    expect(formatNumber(0.56789, 4)).toBe('0.5679');
  });
});
