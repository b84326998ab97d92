#!/usr/bin/env python3
"""The book's 10.3 run in PyTorch, for comparing wall time and perplexity with
`deeprnn train --layers 2 --cell gru`: The Time Machine as d2l preprocesses it,
windows of 33 tokens, 10000/5000, batch 1024, 2-layer nn.GRU with 32 hidden units
on one-hot input + nn.Linear, SGD lr 2, global-norm clipping at 1, 100 epochs.

    /usr/bin/python3 bench/torch_book.py ../shared/data/timemachine.txt [--threads 2] [--seed 0]

Prints one line per 10 epochs and a JSON summary."""
import argparse
import json
import math
import re
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('corpus')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--epochs', type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    text = re.sub('[^A-Za-z]+', ' ', open(args.corpus).read()).lower()
    vocab = sorted(set(['<unk>'] + list(text)))
    idx = {t: i for i, t in enumerate(vocab)}
    corpus = torch.tensor([idx[c] for c in text])
    T, V = 32, len(vocab)
    windows = corpus.unfold(0, T + 1, 1)
    X, Y = windows[:, :-1], windows[:, 1:]
    train, val = slice(0, 10000), slice(10000, 15000)
    rnn = torch.nn.GRU(V, 32, 2)
    linear = torch.nn.Linear(32, V)
    params = list(rnn.parameters()) + list(linear.parameters())
    opt = torch.optim.SGD(params, lr=2)

    def loss_of(x, y):
        out, _ = rnn(F.one_hot(x.T, V).float())
        return F.cross_entropy(linear(out).reshape(-1, V), y.T.reshape(-1))

    start = time.perf_counter()
    history = []
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(10000)
        tot, n = 0.0, 0
        for b in range(0, 10000, 1024):
            i = perm[b:b + 1024]
            loss = loss_of(X[train][i], Y[train][i])
            opt.zero_grad()
            loss.backward()
            norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
            if norm > 1:
                for p in params:
                    p.grad[:] *= 1 / norm
            opt.step()
            tot += loss.item() * len(i)
            n += len(i)
        with torch.no_grad():
            vt, vn = 0.0, 0
            for b in range(10000, 15000, 1024):
                e = min(b + 1024, 15000)
                vt += loss_of(X[b:e], Y[b:e]).item() * (e - b) * T
                vn += (e - b) * T
        history.append((math.exp(tot / n), math.exp(vt / vn)))
        if epoch % 10 == 0:
            print(f'epoch {epoch}: train ppl {history[-1][0]:.3f} val ppl {history[-1][1]:.3f}', flush=True)
    seconds = time.perf_counter() - start
    print(json.dumps({'seconds': seconds, 'train_ppl': history[-1][0], 'val_ppl': history[-1][1],
                      'best_val_ppl': min(h[1] for h in history), 'threads': args.threads, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
