import { describe, expect, it } from 'vitest';
import { invalidUtf8Offset } from '../../src/data/corpus.js';

describe('UTF-8 validation', () => {
  it('accepts valid text of every length class', () => {
    expect(invalidUtf8Offset(Buffer.from('plain ascii, café, ∑, 𝄞 and 中文'))).toBe(-1);
  });

  it.each([
    ['a lone continuation byte', [0x61, 0x80], 1],
    ['a truncated sequence', [0x61, 0x62, 0xe2, 0x82], 2],
    ['an overlong form', [0xc0, 0xaf], 0],
    ['an overlong 3-byte form', [0xe0, 0x80, 0xaf], 0],
    ['a surrogate', [0x20, 0xed, 0xa0, 0x80], 1],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['an invalid lead byte', [0x41, 0xff], 1],
  ])('finds %s', (_what, bytes, offset) => {
    expect(invalidUtf8Offset(Uint8Array.from(bytes as number[]))).toBe(offset);
  });
});
