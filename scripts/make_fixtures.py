#!/usr/bin/env python3
"""Writes test/fixtures/torch_<cell>.json: small 2-layer language models in PyTorch
(nn.RNN / nn.GRU / nn.LSTM + nn.Linear on one-hot input, mean cross-entropy), with
weights, a batch, the loss, every gradient, the weights after one step of the book's
clipping (global norm 1) and SGD (lr 2), and a greedy continuation as the book's
predict makes it.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/make_fixtures.py
The tests read the JSON files and never need PyTorch."""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')
V, H, LAYERS, T, N = 7, 5, 2, 4, 3
LR, CLIP = 2.0, 1.0


def make(cell, seed):
    torch.manual_seed(seed)
    cls = {'rnn': torch.nn.RNN, 'rnn-relu': torch.nn.RNN, 'gru': torch.nn.GRU, 'lstm': torch.nn.LSTM}[cell]
    kw = {'nonlinearity': 'relu'} if cell == 'rnn-relu' else {}
    rnn = cls(V, H, LAYERS, **kw)
    linear = torch.nn.Linear(H, V)
    # Float64 for a precise reference; the weights start as float32 values.
    rnn, linear = rnn.double(), linear.double()
    x = torch.randint(0, V, (T, N))
    y = torch.randint(0, V, (T, N))

    def named():
        out = [('rnn.' + k, v) for k, v in rnn.named_parameters()]
        return out + [('linear.' + k, v) for k, v in linear.named_parameters()]

    weights = {k: v.detach().flatten().tolist() for k, v in named()}
    outputs, _ = rnn(F.one_hot(x, V).double())
    logits = linear(outputs)
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    loss.backward()
    grads = {k: v.grad.flatten().tolist() for k, v in named()}

    # The book's clipping (global norm over every gradient) and SGD step.
    with torch.no_grad():
        params = [v for _, v in named()]
        norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
        if norm > CLIP:
            for p in params:
                p.grad[:] *= CLIP / norm
        for p in params:
            p -= LR * p.grad
    stepped = {k: v.detach().flatten().tolist() for k, v in named()}

    # The book's predict: warm up on the prefix, then argmax, with the stepped weights.
    prefix = [1, 4, 2]
    num_preds = 6
    with torch.no_grad():
        state, outs = None, [prefix[0]]
        for i in range(len(prefix) + num_preds - 1):
            inp = F.one_hot(torch.tensor([[outs[-1]]]), V).double()
            o, state = rnn(inp, state)
            if i < len(prefix) - 1:
                outs.append(prefix[i + 1])
            else:
                outs.append(int(linear(o).argmax(axis=2).reshape(1)))

    return {
        'generator': 'scripts/make_fixtures.py',
        'torch': torch.__version__,
        'config': {'cell': cell, 'vocabSize': V, 'hidden': [H] * LAYERS, 'dropout': 0},
        'T': T, 'N': N,
        'inputs': x.flatten().tolist(),
        'targets': y.flatten().tolist(),
        'weights': weights,
        'loss': loss.item(),
        'grads': grads,
        'grad_norm': float(norm),
        'lr': LR, 'clip': CLIP,
        'stepped': stepped,
        'prefix': prefix, 'num_preds': num_preds, 'predicted': outs,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, cell in enumerate(['rnn', 'rnn-relu', 'gru', 'lstm']):
        path = os.path.join(OUT, f'torch_{cell}.json')
        with open(path, 'w') as f:
            json.dump(make(cell, 100 + i), f)
        print('wrote', os.path.relpath(path))


if __name__ == '__main__':
    main()
