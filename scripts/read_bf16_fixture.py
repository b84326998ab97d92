#!/usr/bin/env python3
"""Reads test/fixtures/bf16_model.safetensors (deeprnn's BF16 checkpoint, written by
`npx vite-node test/helpers/write-bf16-fixture.ts`) with PyTorch, the way a PyTorch user
would without the safetensors package: the header's JSON, then each tensor's bytes
as torch.bfloat16 (torch.frombuffer). Writes test/fixtures/torch_bf16.json: per
tensor the dtype and shape PyTorch saw and its values as float32 (infinities and
NaN as strings), for test/unit/bf16.test.ts.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/read_bf16_fixture.py"""
import json
import math
import os
import struct

import torch

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')
DTYPES = {'BF16': torch.bfloat16, 'F32': torch.float32}


def value(x):
    return x if math.isfinite(x) else str(x)


def main():
    with open(os.path.join(FIX, 'bf16_model.safetensors'), 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n])
    data = bytearray(buf[8 + n:])
    out = {'torch': torch.__version__, 'tensors': {}}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        begin, end = e['data_offsets']
        t = torch.frombuffer(data[begin:end], dtype=DTYPES[e['dtype']]).reshape(e['shape'])
        out['tensors'][name] = {
            'dtype': str(t.dtype),
            'shape': list(t.shape),
            'values': [value(x) for x in t.float().flatten().tolist()],
        }
    with open(os.path.join(FIX, 'torch_bf16.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
