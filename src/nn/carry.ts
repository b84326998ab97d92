// The hidden (and LSTM cell) state a model carries from one sequential batch
// to the next, per layer, for batches of width N.
import { InputError } from '../errors.js';
import { describe, strictInteger } from '../validate.js';
import { carriesC, type ModelConfig } from './config.js';

export interface CarriedLayer<A extends Float32Array | Float64Array> {
  h: A;
  c: A | null;
}

export class CarriedState<A extends Float32Array | Float64Array> {
  private layers: CarriedLayer<A>[] | null = null;
  private all: A | null = null;
  private N = 0;

  constructor(
    private readonly config: ModelConfig,
    private readonly alloc: (n: number) => A,
  ) {}

  /** The state for batches of width N: zeros when there was none or N changed. */
  for(N: number): CarriedLayer<A>[] {
    if (!this.layers || this.N !== N) {
      const { hidden } = this.config;
      const lstm = carriesC(this.config.cell);
      const per = hidden.reduce((n, H) => n + N * H, 0);
      const all = this.alloc(lstm ? 2 * per : per);
      let at = 0;
      const view = (n: number) => {
        at += n;
        return all.subarray(at - n, at) as A;
      };
      const hs = hidden.map((H) => view(N * H));
      const cs = hidden.map((H) => (lstm ? view(N * H) : null));
      this.layers = hidden.map((_, l) => ({ h: hs[l]!, c: cs[l]! }));
      this.all = all;
      this.N = N;
    }
    return this.layers;
  }

  /**
   * The state for width N as one buffer, every layer's h then every layer's c
   * (LSTM), the layout lmTrainChunks / lmEvalChunks read and write: the
   * layers' h and c are views of it.
   */
  buffer(N: number): A {
    this.for(N);
    return this.all!;
  }

  reset(): void {
    for (const s of this.layers ?? []) {
      s.h.fill(0);
      s.c?.fill(0);
    }
  }

  /**
   * A raw copy of the state as it is (its own precision, non-finite values
   * too); the function returned puts it back, or no state when there was none.
   */
  keep(): () => void {
    const all = this.all ? (this.all.slice() as A) : null, N = this.N;
    return () => {
      if (all) {
        this.buffer(N).set(all);
      } else {
        this.layers = null;
        this.all = null;
        this.N = 0;
      }
    };
  }

  /**
   * h of every layer, then c of every layer (LSTM), as float32 copies (a
   * snapshot: the next carrying batch leaves it as it is, and writing into it
   * changes nothing); null when there is none.
   */
  toArrays(): Float32Array[] | null {
    if (!this.layers) return null;
    const f32 = (a: A) => Float32Array.from(a);
    return [...this.layers.map((s) => f32(s.h)), ...this.layers.flatMap((s) => (s.c ? [f32(s.c)] : []))];
  }

  /**
   * Sets the state for width N from arrays as toArrays() gives them: each
   * layer's h (N x its hidden size), then each layer's c for an LSTM, every
   * value finite. Checked whole first: a refused state leaves the one there.
   */
  set(state: Float32Array[], N: number): void {
    strictInteger('setCarriedState: N (the batch width)', N, 1, 2 ** 31 - 1);
    const { hidden } = this.config;
    const lstm = carriesC(this.config.cell);
    const names = [...hidden.map((_, l) => `h of layer ${l}`), ...(lstm ? hidden.map((_, l) => `c of layer ${l}`) : [])];
    if (!Array.isArray(state) || state.length !== names.length) {
      throw new InputError(`setCarriedState: the state must be ${names.length} Float32Arrays (${names.join(', ')}), got ${describe(state)}`);
    }
    names.forEach((name, i) => {
      const a = state[i], n = N * hidden[i % hidden.length]!;
      if (!(a instanceof Float32Array) || a.length !== n) {
        throw new InputError(`setCarriedState: ${name} must be a Float32Array of N x ${hidden[i % hidden.length]} = ${n} values, got ${a instanceof Float32Array ? `${a.length} values` : describe(a)}`);
      }
      const bad = a.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new InputError(`setCarriedState: ${name} holds ${a[bad]} at index ${bad}; a state must be finite`);
    });
    const layers = this.for(N);
    layers.forEach((s, l) => {
      s.h.set(state[l]!);
      if (s.c) s.c.set(state[layers.length + l]!);
    });
  }
}
