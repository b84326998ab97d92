// The model of test/fixtures/bf16_model.safetensors: a small GRU whose
// weights include values where bf16 rounding decides (ties both ways, a
// carry into the exponent, subnormals, -0), saved with its weights as BF16.
// Written by `npx vite-node test/helpers/write-bf16-fixture.ts`; then
// `/usr/bin/python3 scripts/read_bf16_fixture.py` reads it with PyTorch into
// test/fixtures/torch_bf16.json (the tests read both and never need PyTorch).
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';

export const BF16_FIXTURE = fileURLToPath(new URL('../fixtures/bf16_model.safetensors', import.meta.url));

const f32 = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0]!;

export function bf16FixtureModel(): RNNLM {
  const m = new RNNLM({ cell: 'gru', vocabSize: 7, hidden: [4, 3], dropout: 0 }, new Rng(7));
  m.tokenizer = Tokenizer.fit('char', 'abcde ')  // 6 characters and <unk>;
  const special = [
    f32(0x3f808000), // 1 + 2^-8: a tie, even below: 1
    f32(0x3f818000), // a tie, odd below: up
    f32(0xbf807fff), // just below a tie: down
    f32(0x3fffffff), // rounds up into the next binade: 2
    f32(0x00018000), // a subnormal tie: up
    f32(0x80000001), // the smallest negative subnormal: -0
  ];
  m.params.set(special, 0);
  return m;
}
