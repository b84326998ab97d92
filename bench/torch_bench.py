#!/usr/bin/env python3
"""The benchmark's configurations in PyTorch, for deeprnn's ratios.

    /usr/bin/python3 bench/torch_bench.py --config A --threads 2 [--batches 20 --warmup 3] [--autocast]

prints one JSON object: training tokens/s (one-hot input -> nn.GRU/nn.LSTM ->
nn.Linear -> cross-entropy, backward, global-norm clipping at 1, SGD step) or,
for D, greedy generation tokens/s with batch 1, and the GEMM throughput it
measured. --autocast runs the forward and the loss under
torch.autocast('cpu', dtype=torch.bfloat16) (the one line a PyTorch user adds
for bf16 matrix products; parameters and optimizer stay float32). It refuses to compare (exit 3) when torch's float32 GEMM is too slow
to be an optimised BLAS (Debian's PyTorch without libopenblas0-openmp falls back
to the reference BLAS)."""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

CONFIGS = {
    'A': dict(cell='gru', layers=2, hidden=32, vocab=28, batch=1024, steps=32),
    'B': dict(cell='lstm', layers=2, hidden=256, vocab=65, batch=64, steps=64),
    'C': dict(cell='lstm', layers=2, hidden=512, vocab=65, batch=50, steps=50),
    'D': dict(cell='lstm', layers=2, hidden=512, vocab=65, batch=1, steps=1000, generate=True),
}
# Below this a 512x512 float32 GEMM on one thread is not an optimised BLAS.
MIN_GEMM_GFLOPS = 8.0


def gemm_gflops():
    a = torch.randn(512, 512)
    b = torch.randn(512, 512)
    for _ in range(3):
        a @ b
    n = 20
    t0 = time.perf_counter()
    for _ in range(n):
        a @ b
    dt = time.perf_counter() - t0
    return 2 * 512 ** 3 * n / dt / 1e9


def die_with_parent():
    """On Linux, end with SIGTERM when the process that started this one (deeprnn bench) is gone."""
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--config', required=True, choices=sorted(CONFIGS))
    ap.add_argument('--threads', type=int, required=True)
    ap.add_argument('--batches', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--autocast', action='store_true', help='bf16 autocast of the forward and loss')
    args = ap.parse_args()
    die_with_parent()
    torch.set_num_threads(1)
    g1 = gemm_gflops()
    if g1 < MIN_GEMM_GFLOPS:
        print(json.dumps({'error': f'torch float32 GEMM runs at {g1:.1f} GFLOP/s on one thread: this PyTorch uses '
                                   'the reference BLAS (install libopenblas0-openmp); not comparing'}))
        return 3
    torch.set_num_threads(args.threads)
    c = CONFIGS[args.config]
    torch.manual_seed(0)
    cls = {'gru': torch.nn.GRU, 'lstm': torch.nn.LSTM}[c['cell']]
    rnn = cls(c['vocab'], c['hidden'], c['layers'])
    linear = torch.nn.Linear(c['hidden'], c['vocab'])
    params = list(rnn.parameters()) + list(linear.parameters())
    V = c['vocab']
    out = {'config': args.config, 'threads': args.threads, 'torch': torch.__version__, 'gemm_gflops_1thread': g1,
           'autocast': args.autocast}
    autocast = lambda: torch.autocast('cpu', dtype=torch.bfloat16, enabled=args.autocast)
    if c.get('generate'):
        with torch.no_grad():
            def run(n):
                state, tok = None, 0
                for _ in range(n):
                    with autocast():
                        o, state = rnn(F.one_hot(torch.tensor([[tok]]), V).float(), state)
                        tok = int(linear(o).argmax(axis=2).reshape(1))
            run(50)
            t0 = time.perf_counter()
            run(c['steps'])
            dt = time.perf_counter() - t0
        out['gen_tokens_per_s'] = c['steps'] / dt
    else:
        T, N = c['steps'], c['batch']
        x = torch.randint(0, V, (T, N))
        y = torch.randint(0, V, (T, N))
        opt = torch.optim.SGD(params, lr=0.1)

        def step():
            opt.zero_grad()
            with autocast():
                o, _ = rnn(F.one_hot(x, V).float())
                loss = F.cross_entropy(linear(o).reshape(-1, V), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        for _ in range(args.warmup):
            step()
        t0 = time.perf_counter()
        for _ in range(args.batches):
            step()
        dt = time.perf_counter() - t0
        out['train_tokens_per_s'] = T * N * args.batches / dt
    out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
