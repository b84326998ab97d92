// The three tokenizers: what they split, that they round-trip their text, that
// streaming over chunk boundaries gives the same tokens, and their JSON form.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { countTokens, Tokenizer, tokenizerFromJSON, tokenStream } from '../../src/data/tokenizer.js';
import { UNK } from '../../src/data/vocab.js';
import { Rng } from '../../src/rng.js';
import { HAS_SHAKESPEARE, NEEDS_SHAKESPEARE, noteShakespeare, SHAKESPEARE, TIMEMACHINE } from '../helpers/paths.js';

noteShakespeare(import.meta.url);
const timemachine = readFileSync(TIMEMACHINE, 'utf8');
const sample = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.  Don't — naïve 𝄞 café's 42!\r\n";

/** `text` cut into chunks of 1 to `most` characters, never inside a surrogate pair (chunks come from a UTF-8 decoder). */
function randomChunks(text: string, rng: Rng, most: number): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length;) {
    let n = 1 + rng.below(most);
    if (i + n < text.length && /[\uDC00-\uDFFF]/.test(text[i + n]!)) n++;
    chunks.push(text.slice(i, i + n));
    i += n;
  }
  return chunks;
}

describe('tokenizers', () => {
  it('char keeps every code point, case, punctuation and newlines', () => {
    const t = Tokenizer.fit('char', sample);
    expect(t.split('a𝄞\n')).toEqual(['a', '𝄞', '\n']);
    expect(t.decode(t.encode(sample))).toBe(sample);
    const tm = Tokenizer.fit('char', timemachine);
    expect(tm.vocab.size).toBe(71); // 70 characters + <unk>
    expect(tm.decode(tm.encode(timemachine))).toBe(timemachine);
  });

  it('word keeps words, runs of white space and single symbols, and round-trips', () => {
    const t = Tokenizer.fit('word', sample);
    expect(t.split("Don't stop,  now!\n")).toEqual(["Don't", ' ', 'stop', ',', '  ', 'now', '!', '\n']);
    expect(t.decode(t.encode(sample))).toBe(sample);
    const tm = Tokenizer.fit('word', timemachine);
    expect(tm.decode(tm.encode(timemachine))).toBe(timemachine);
  });

  it('word keeps combining marks inside their word (letters, marks and digits: \\p{L}\\p{M}\\p{N})', () => {
    const decomposed = 'cafe\u0301 au lait'; // é written as e + U+0301 COMBINING ACUTE ACCENT
    const hindi = 'नमस्ते दुनिया'; // vowel signs and the virama are marks (\p{M})
    const t = Tokenizer.fit('word', `${decomposed} ${hindi}`);
    expect(t.split(decomposed)).toEqual(['cafe\u0301', ' ', 'au', ' ', 'lait']);
    expect(t.split(hindi)).toEqual(['नमस्ते', ' ', 'दुनिया']);
    expect(t.split("l'e\u0301te\u0301 2\u20e3")).toEqual(["l'e\u0301te\u0301", ' ', '2\u20e3']);
    // A chunk boundary between a letter and its mark does not split the word.
    expect([...tokenStream('word', ['cafe', '\u0301 nams', '्ते'])].flat()).toEqual(['cafe\u0301', ' ', 'nams्ते']);
  });

  it.skipIf(!HAS_SHAKESPEARE)(`char and word round-trip tiny Shakespeare, 65 characters ${NEEDS_SHAKESPEARE}`, () => {
    const shakespeare = readFileSync(SHAKESPEARE, 'utf8');
    const c = Tokenizer.fit('char', shakespeare);
    expect(c.vocab.size).toBe(66); // 65 characters + <unk>
    expect(c.decode(c.encode(shakespeare))).toBe(shakespeare);
    const w = Tokenizer.fit('word', shakespeare);
    expect(w.decode(w.encode(shakespeare))).toBe(shakespeare);
  });

  it('decode names what it cannot read (before: a TypeError for null, "outside the vocabulary" for 1.5)', () => {
    const t = Tokenizer.fit('char', 'abc');
    expect(() => t.decode(null as never)).toThrow('decode needs a list of token ids (an array or a typed array), got null');
    expect(() => t.decode(3 as never)).toThrow('decode needs a list of token ids (an array or a typed array), got 3');
    expect(() => t.decode([1.5])).toThrow('token id 1.5 is not a whole number (ids are 0 to 3)');
    expect(() => t.decode([9])).toThrow('token id 9 is outside the vocabulary of 4');
    expect(t.decode(Int32Array.from(t.encode('cab')))).toBe('cab');
  });

  it('word with a minimum count maps rare words to <unk>', () => {
    const t = Tokenizer.fit('word', 'the cat and the dog and the end', 2);
    expect(t.vocab.tokens).toEqual([' ', UNK, 'and', 'the']);
    expect(t.decode(t.encode('the cat and the'))).toBe(`the ${UNK} and the`);
    expect(() => Tokenizer.fit('char', 'abc', 2)).toThrow('minFreq applies to the word tokenizer only, got 2 with char');
  });

  it("d2l is the book's: non-letters to one space, lowercase", () => {
    const t = Tokenizer.fit('d2l', sample);
    expect(t.normalize('It has, 42... Time!')).toBe('it has time ');
    expect(t.decode(t.encode(sample))).toBe(t.normalize(sample));
  });

  it('d2l splits as its definition says (letters lowercased, each run of anything else one space) on random text', () => {
    const byDefinition = (text: string) => (text.match(/[A-Za-z]|[^A-Za-z]+/g) ?? []).map((p) => (/^[A-Za-z]$/.test(p) ? p.toLowerCase() : ' '));
    const t = Tokenizer.fit('d2l', 'a');
    const alphabet = ['a', 'Z', 'q', 'M', ' ', '\n', '1', '!', '_', '[', '`', '{', '@', 'é', 'ß', '\u0130', '𝄞', '\r'];
    const rng = new Rng(3);
    for (let trial = 0; trial < 300; trial++) {
      const text = Array.from({ length: rng.below(40) }, () => alphabet[rng.below(alphabet.length)]).join('');
      expect(t.split(text), JSON.stringify(text)).toEqual(byDefinition(text));
    }
    expect(t.split(timemachine)).toEqual(byDefinition(timemachine));
  });

  it.each(['d2l', 'char', 'word'] as const)('%s gives the same tokens streamed in random chunks', (kind) => {
    const rng = new Rng(kind.length);
    const text = timemachine.slice(0, 20000) + sample;
    const whole = Tokenizer.fit(kind, text).split(text);
    for (let trial = 0; trial < 5; trial++) {
      const chunks = randomChunks(text, rng, 200);
      expect([...tokenStream(kind, chunks)].flat()).toEqual(whole);
      expect(countTokens(kind, chunks).get(whole[0]!)).toBe(whole.filter((w) => w === whole[0]).length);
    }
  });

  it('word streams a text without white space chunk by chunk, cutting at its symbols, and gives the same tokens', () => {
    // Before, only white space ended a piece for certain: a text without it (punctuation,
    // minified JSON) was carried whole from chunk to chunk and cut again with each one.
    const rng = new Rng(5);
    const alphabet = ['a', 'b', "'", '’', '!', '.', '-', 'é', '\u0301', '1', '𝄞', '{', '"'];
    for (let trial = 0; trial < 200; trial++) {
      const text = Array.from({ length: 1 + rng.below(60) }, () => alphabet[rng.below(alphabet.length)]).join('');
      const whole = Tokenizer.fit('word', text).split(text);
      const chunks = randomChunks(text, rng, 6);
      expect([...tokenStream('word', chunks)].flat(), JSON.stringify(chunks)).toEqual(whole);
    }
    // Each chunk of punctuation gives its tokens as it comes (all but the last piece, carried).
    const chunks = Array.from({ length: 50 }, () => '!?.,'.repeat(250));
    const out = [...tokenStream('word', chunks)];
    expect(out.slice(0, 50).every((tokens) => tokens.length >= 999)).toBe(true);
    expect(out.flat()).toHaveLength(50_000);
  });

  it('d2l counts and encodes a stream of chunks as its tokens say (the by-code path)', () => {
    // countTokens and encodeChunks read d2l text by code, not by token string:
    // the counts (in the order tokens are first seen) and the ids must be those of the tokens.
    const alphabet = ['a', 'Z', 'q', ' ', '\n', '1', '!', '{', '@', 'é', '\u0130', '𝄞', '\r'];
    const rng = new Rng(11);
    const texts = [timemachine.slice(0, 5000) + sample, ' , ', '', 'x', '...', 'ab. '];
    for (let trial = 0; trial < 200; trial++) {
      texts.push(Array.from({ length: rng.below(60) }, () => alphabet[rng.below(alphabet.length)]).join(''));
    }
    const vocab = Tokenizer.fit('d2l', 'the quick brown fox jumps over a lazy dog');
    const few = Tokenizer.fit('d2l', 'ab');  // most letters outside: <unk>
    for (const text of texts) {
      const whole = Tokenizer.fit('d2l', text).split(text);
      const chunks: string[] = [];
      for (let i = 0; i < text.length;) {
        let n = rng.below(12);  // empty chunks too
        if (i + n < text.length && /[\uDC00-\uDFFF]/.test(text[i + n]!)) n++;
        chunks.push(text.slice(i, i + n));
        i += n;
      }
      const expected = new Map<string, number>();
      for (const w of whole) expected.set(w, (expected.get(w) ?? 0) + 1);
      expect([...countTokens('d2l', chunks)], JSON.stringify(text)).toEqual([...expected]);
      for (const t of [vocab, few]) {
        expect(Array.from(t.encodeChunks(chunks, whole.length)), JSON.stringify(text)).toEqual(whole.map((w) => t.vocab.id(w)));
      }
    }
    // A long run without letters, cut into many chunks, is one space wherever it lies.
    const run = 'дом, ' .repeat(2000);
    const parts = (t: string) => Array.from({ length: Math.ceil(t.length / 7) }, (_, i) => t.slice(7 * i, 7 * i + 7));
    for (const text of [run, `ab${run}`, `${run}ab`, `a${run}b`]) {
      const whole = Tokenizer.fit('d2l', text).split(text);
      expect(whole.join('')).toBe(text.replace(/[^A-Za-z]+/g, ' '));
      expect([...tokenStream('d2l', parts(text))].flat()).toEqual(whole);
      expect([...countTokens('d2l', parts(text))]).toEqual([...countTokens('d2l', [text])]);
      expect(Array.from(vocab.encodeChunks(parts(text), whole.length))).toEqual(whole.map((w) => vocab.vocab.id(w)));
    }
    // Counts already in the map are added to, in their place.
    const counts = new Map([['z', 2], ['b', 1]]);
    countTokens('d2l', ['ab', 'z!'], counts);
    expect([...counts]).toEqual([['z', 3], ['b', 2], ['a', 1], [' ', 1]]);
    expect(() => vocab.encodeChunks(['abc'], 2)).toThrow('the corpus changed while it was read (3 tokens, 2 counted before)');
  });

  it('round-trips through its JSON form', () => {
    for (const kind of ['d2l', 'char', 'word'] as const) {
      const t = Tokenizer.fit(kind, sample, kind === 'word' ? 2 : 1);
      const again = tokenizerFromJSON(JSON.parse(JSON.stringify(t.toJSON())));
      expect(again.kind).toBe(kind);
      expect(again.encode(sample)).toEqual(t.encode(sample));
    }
    expect(() => tokenizerFromJSON({ kind: 'word', tokens: [UNK], minFreq: 0 })).toThrow('tokenizer minFreq 0 is invalid');
  });

  it('lists the tokens of a text outside the vocabulary', () => {
    const t = Tokenizer.fit('char', 'abc');
    expect(t.unknown('abxyx')).toEqual(['x', 'y']);
  });
});
