// bf16 in TypeScript and in checkpoints: the conversion's rounding; weights
// saved as BF16 safetensors (half the bytes) that deeprnn loads back rounded
// and that PyTorch reads as torch.bfloat16 with the same values (the committed
// fixture and what PyTorch read from it: scripts/read_bf16_fixture.py).
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { bf16Operand, fromBf16Bits, roundBf16, toBf16Bits } from '../../src/nn/bf16.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { BF16_FIXTURE, bf16FixtureModel } from '../helpers/bf16-fixture.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const f32 = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0]!;

describe('bf16 conversion in TypeScript', () => {
  it('rounds to nearest, ties to even; keeps infinities, NaN (quiet) and subnormals', () => {
    const cases: [number, number][] = [
      [0x3f800000, 0x3f80], [0x3f808000, 0x3f80], [0x3f818000, 0x3f82], [0x3f808001, 0x3f81], [0x3f807fff, 0x3f80],
      [0x7f7fffff, 0x7f80], [0xff800000, 0xff80], [0x80000000, 0x8000], [0x00008000, 0x0000], [0x00018000, 0x0002],
      [0x807fffff, 0x8080], [0x7f800001, 0x7fc0], [0xff800001, 0xffc0],
    ];
    const bits = toBf16Bits(Float32Array.from(cases, ([u]) => f32(u)));
    cases.forEach(([u, want], i) => expect(bits[i]!.toString(16), `0x${u.toString(16)}`).toBe(want.toString(16)));
    expect([...fromBf16Bits(Uint16Array.of(0x3f80, 0xc000))]).toEqual([1, -2]);
  });

  it('reads a product operand as the native products do: through float32, subnormals as zero', () => {
    expect(bf16Operand(1 + 2 ** -8)).toBe(1); // a tie, even below: down
    expect(bf16Operand(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6); // a tie, odd below: up
    expect(bf16Operand(-(1 + 2 ** -8 + 2 ** -30))).toBe(-1); // past the tie in float64 only: float32 rounds it to the tie, then to even
    expect(bf16Operand(f32(0x807fffff))).toBe(-0); // the largest subnormal, which rounding alone carries to the smallest normal: a zero of its sign, as natively
    expect(bf16Operand(f32(0x007fffff))).toBe(0);
    expect(bf16Operand(-0)).toBe(-0);
    expect(bf16Operand(2 ** -127)).toBe(0);
    expect(bf16Operand(f32(0x00808000))).toBe(2 ** -126); // the smallest normals round as any value
    expect(bf16Operand(Infinity)).toBe(Infinity);
    expect(bf16Operand(NaN)).toBeNaN();
  });
});

describe('BF16 checkpoints', () => {
  it('deeprnn writes the committed fixture byte for byte', () => {
    const file = path.join(dir, 'fixture.safetensors');
    bf16FixtureModel().save(file, { dtype: 'bf16' });
    expect(readFileSync(file).equals(readFileSync(BF16_FIXTURE))).toBe(true);
  });

  it('PyTorch read every tensor of the fixture as torch.bfloat16 with the values deeprnn loads', () => {
    const torch = JSON.parse(readFileSync(path.join(path.dirname(BF16_FIXTURE), 'torch_bf16.json'), 'utf8')) as {
      tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
    };
    const model = RNNLM.load(BF16_FIXTURE);
    const original = bf16FixtureModel();
    expect(Object.keys(torch.tensors).sort()).toEqual(model.table.map((p) => p.name).sort());
    for (const p of model.table) {
      const t = torch.tensors[p.name]!;
      expect(t.dtype, p.name).toBe('torch.bfloat16');
      expect(t.shape, p.name).toEqual(p.shape);
      const got = model.param(p.name);
      const want = roundBf16(original.param(p.name));
      t.values.forEach((v, i) => {
        expect(Object.is(got[i], Number(v)), `${p.name}[${i}]: deeprnn ${got[i]}, PyTorch ${v}`).toBe(true);
        expect(Object.is(got[i], want[i]), `${p.name}[${i}] is the original rounded`).toBe(true);
      });
    }
    // the values where rounding decides, as PyTorch read them
    expect(torch.tensors['rnn.weight_ih_l0']!.values.slice(0, 6)).toEqual([1, 1.015625, -1, 2, 1.8367099231598242e-40, -0]);
  });

  it('halves the weights\' bytes and leaves the metadata as it was', () => {
    const model = bf16FixtureModel();
    const a = path.join(dir, 'f32.safetensors');
    const b = path.join(dir, 'bf16.safetensors');
    model.save(a);
    model.save(b, { dtype: 'bf16' });
    // tensor bytes: the file less the 8-byte length and the header
    const dataBytes = (file: string) => statSync(file).size - 8 - Number(readFileSync(file).readBigUInt64LE(0));
    expect(dataBytes(a)).toBe(model.params.length * 4);
    expect(dataBytes(b)).toBe(model.params.length * 2);
    expect(loadCheckpoint(b).meta).toEqual(loadCheckpoint(a).meta);
  });
});
