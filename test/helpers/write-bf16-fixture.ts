// Writes test/fixtures/bf16_model.safetensors (see bf16-fixture.ts):
//   npx vite-node test/helpers/write-bf16-fixture.ts
import { BF16_FIXTURE, bf16FixtureModel } from './bf16-fixture.js';

bf16FixtureModel().save(BF16_FIXTURE, { dtype: 'bf16' });
console.log(`wrote ${BF16_FIXTURE}`);
