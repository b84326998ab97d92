// The thread count: --threads, else OMP_NUM_THREADS, else the cores this
// process may use; never more than those, with a one-line note when capped.
import { describe, expect, it } from 'vitest';
import { chooseThreads, unparsableOpenMp } from '../../src/threads.js';

describe('chooseThreads', () => {
  it('defaults to the cores this process may use', () => {
    expect(chooseThreads(undefined, {}, 16)).toEqual({ threads: 16, note: null });
  });

  it('honours --threads and caps it at the cores, saying so', () => {
    expect(chooseThreads(3, {}, 16)).toEqual({ threads: 3, note: null });
    expect(chooseThreads(1000, { OMP_NUM_THREADS: '4' }, 2)).toEqual({
      threads: 2, note: '--threads 1000 is more than the 2 cores this process may use; using 2' });
    // one core is "the core" (a rank bound to one core; before: "the 1 cores")
    expect(chooseThreads(4, {}, 1)).toEqual({ threads: 1, note: '--threads 4 is more than the core this process may use; using 1' });
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '4' }, 1)).toEqual({
      threads: 1, note: 'OMP_NUM_THREADS=4 is more than the core this process may use; using 1' });
  });

  it('honours OMP_NUM_THREADS (its first level) when --threads is not given, capped the same way', () => {
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '3' }, 16)).toEqual({ threads: 3, note: null });
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '4,2' }, 16)).toEqual({ threads: 4, note: null });
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '64' }, 16)).toEqual({
      threads: 16, note: 'OMP_NUM_THREADS=64 is more than the 16 cores this process may use; using 16' });
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: 'many' }, 8)).toEqual({
      threads: 8, note: 'OMP_NUM_THREADS="many" is not a positive integer; using the 8 cores this process may use' });
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '0' }, 8).threads).toBe(8);
  });

  it('names the OpenMP variables libgomp would not parse (positive counts; OMP_NUM_THREADS a list of them)', () => {
    expect(unparsableOpenMp({ OMP_NUM_THREADS: '4', OMP_THREAD_LIMIT: ' 8 ' })).toEqual([]);
    expect(unparsableOpenMp({ OMP_NUM_THREADS: '4, 2' })).toEqual([]);
    expect(unparsableOpenMp({})).toEqual([]);
    for (const bad of ['0', '', 'abc', '1.5', '-2', '4,', '4,0'])
      expect(unparsableOpenMp({ OMP_NUM_THREADS: bad }), bad).toEqual(['OMP_NUM_THREADS']);
    expect(unparsableOpenMp({ OMP_NUM_THREADS: 'x', OMP_THREAD_LIMIT: '2,2' })).toEqual(['OMP_NUM_THREADS', 'OMP_THREAD_LIMIT']);
    expect(unparsableOpenMp({ OMP_NUM_THREADS: '08' })).toEqual([]);  // a count with leading zeros, as strtoul reads it
  });

  it('counts past 2^64 - 1 are ones libgomp does not read: hidden from it, and named as written', () => {
    // Before, they were passed on (libgomp wrote its own line) and the note showed them rounded.
    expect(unparsableOpenMp({ OMP_NUM_THREADS: '18446744073709551615', OMP_THREAD_LIMIT: '018446744073709551615' })).toEqual([]);
    expect(unparsableOpenMp({ OMP_NUM_THREADS: '18446744073709551616', OMP_THREAD_LIMIT: '99999999999999999999' }))
      .toEqual(['OMP_NUM_THREADS', 'OMP_THREAD_LIMIT']);
    expect(unparsableOpenMp({ OMP_NUM_THREADS: '4,99999999999999999999' })).toEqual(['OMP_NUM_THREADS']);
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '99999999999999999999' }, 8)).toEqual({ threads: 8,
      note: 'OMP_NUM_THREADS="99999999999999999999" is a count larger than OpenMP reads (at most 2^64 - 1); using the 8 cores this process may use' });
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '18446744073709551615' }, 8)).toEqual({ threads: 8,
      note: 'OMP_NUM_THREADS=18446744073709551615 is more than the 8 cores this process may use; using 8' });
    expect(chooseThreads(undefined, { OMP_THREAD_LIMIT: '99999999999999999999' }, 8)).toEqual({ threads: 8,
      note: 'OMP_THREAD_LIMIT="99999999999999999999" is a count larger than OpenMP reads (at most 2^64 - 1); ignored' });
  });

  it('ignores a value OpenMP cannot parse as OpenMP does, saying so (OpenMP\'s own line is not shown)', () => {
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '4,0' }, 8)).toEqual({
      threads: 8, note: 'OMP_NUM_THREADS="4,0" is not a positive integer; using the 8 cores this process may use' });
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '08' }, 16)).toEqual({ threads: 8, note: null });
    expect(chooseThreads(undefined, { OMP_THREAD_LIMIT: 'abc' }, 4)).toEqual({ threads: 4, note: 'OMP_THREAD_LIMIT="abc" is not a positive integer; ignored' });
    expect(chooseThreads(2, { OMP_THREAD_LIMIT: '0' }, 4)).toEqual({ threads: 2, note: 'OMP_THREAD_LIMIT="0" is not a positive integer; ignored' });
    expect(chooseThreads(undefined, { OMP_THREAD_LIMIT: '' }, 4)).toEqual({ threads: 4, note: null });
  });

  it('stays within OMP_THREAD_LIMIT, saying so (OpenMP would run no more threads than it allows)', () => {
    expect(chooseThreads(2, { OMP_THREAD_LIMIT: '1' }, 2)).toEqual({
      threads: 1, note: '--threads 2 is more than OMP_THREAD_LIMIT=1 lets OpenMP run; using 1' });
    expect(chooseThreads(undefined, { OMP_THREAD_LIMIT: '4' }, 16)).toEqual({ threads: 4, note: null });
    expect(chooseThreads(undefined, { OMP_NUM_THREADS: '8', OMP_THREAD_LIMIT: '4' }, 16)).toEqual({
      threads: 4, note: 'OMP_NUM_THREADS=8 is more than OMP_THREAD_LIMIT=4 lets OpenMP run; using 4' });
    expect(chooseThreads(3, { OMP_THREAD_LIMIT: '4' }, 16)).toEqual({ threads: 3, note: null });
    expect(chooseThreads(3, { OMP_THREAD_LIMIT: 'x' }, 16)).toEqual({ threads: 3, note: 'OMP_THREAD_LIMIT="x" is not a positive integer; ignored' });
  });
});
