#!/usr/bin/env python3
"""Writes test/fixtures/torch_<cell>.json: small 2-layer language models in PyTorch
(nn.RNN / nn.GRU / nn.LSTM + nn.Linear on one-hot input, mean cross-entropy), with
weights, a batch, the loss, every gradient, the weights after one step of the book's
clipping (global norm 1) and SGD (lr 2), and a greedy continuation as the book's
predict makes it; and test/fixtures/torch_optimizers.json: four steps of SGD (with
momentum, dampening, Nesterov, weight decay), Adam, AdamW and RMSprop from the same
weights and gradients, each hyperparameter at a value other than its default in
some case, and PyTorch's defaults of each optimizer.

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


OPTIMIZERS = [
    ('sgd', {'lr': 0.1}),
    ('sgd', {'lr': 0.1, 'momentum': 0.9, 'weight_decay': 0.01}),
    ('sgd', {'lr': 0.05, 'momentum': 0.8, 'nesterov': True}),
    ('sgd', {'lr': 0.1, 'weight_decay': 0.05}),
    ('sgd', {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.5}),
    ('adam', {'lr': 0.01}),
    ('adam', {'lr': 0.01, 'betas': (0.8, 0.99), 'eps': 1e-6, 'weight_decay': 0.1}),
    ('adamw', {'lr': 0.01, 'weight_decay': 0.1}),
    ('rmsprop', {'lr': 0.01}),
    ('rmsprop', {'lr': 0.01, 'alpha': 0.9, 'momentum': 0.9, 'weight_decay': 0.01}),
    ('adamw', {'lr': 0.01}),
    ('adamw', {'lr': 0.01, 'betas': (0.85, 0.98), 'eps': 1e-6}),
    ('rmsprop', {'lr': 0.01, 'eps': 1e-4}),
]
CLASSES = {'sgd': torch.optim.SGD, 'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW, 'rmsprop': torch.optim.RMSprop}


def torch_defaults():
    """Each optimizer's defaults but lr (SGD has none): the values deeprnn's specs must have."""
    p = torch.zeros(1, requires_grad=True)
    out = {}
    for kind, cls in CLASSES.items():
        d = cls([p], lr=0.1).defaults
        out[kind] = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items() if k != 'lr'}
    return out


def optimizer_steps():
    """Four steps of each optimizer from the same weights and gradients."""
    torch.manual_seed(7)
    p0 = torch.randn(23, dtype=torch.float64)
    grads = [torch.randn(23, dtype=torch.float64) for _ in range(4)]
    cases = []
    for kind, kw in OPTIMIZERS:
        p = p0.clone().requires_grad_(True)
        opt = CLASSES[kind]([p], **kw)
        after = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            after.append(p.detach().clone().tolist())
        cases.append({'kind': kind, 'settings': {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}, 'after': after})
    return {'generator': 'scripts/make_fixtures.py', 'torch': torch.__version__, 'defaults': torch_defaults(), 'params': p0.tolist(),
            'grads': [g.tolist() for g in grads], 'cases': cases}


def main():
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, 'torch_optimizers.json')
    with open(path, 'w') as f:
        json.dump(optimizer_steps(), f)
    print('wrote', os.path.relpath(path))
    for i, cell in enumerate(['rnn', 'rnn-relu', 'gru', 'lstm']):
        path = os.path.join(OUT, f'torch_{cell}.json')
        with open(path, 'w') as f:
            json.dump(make(cell, 100 + i), f)
        print('wrote', os.path.relpath(path))


if __name__ == '__main__':
    main()
