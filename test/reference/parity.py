"""Driver for test/parity.test.ts: runs the PyTorch reference (glit_torch.py) on files the TypeScript side wrote.

  parity.py check --arch A.json --checkpoint CK.safetensors --input X.npy --labels 0,1 --smoothing S --out R.safetensors
      Loads CK strictly into the reference in float64 (the oracle), then on X (NCHW float32):
      train mode (batch statistics): logits, loss (cross-entropy, label smoothing S), gradients, buffers afterwards;
      eval mode (running statistics, as updated by that train-mode forward): logits, plain cross-entropy, gradients.
      Writes them to R as float64 under train/logits, train/loss, train/grad/<name>, train/state/<buffer>, eval/....
  parity.py export --arch A.json --seed N --input X.npy --out CK.safetensors --logits L.npy
      Builds the reference with PyTorch's own initialisation, runs one train-mode forward on X (so BatchNorm has
      running statistics), saves its state_dict to CK with the architecture in the metadata, and writes its eval-mode
      float32 logits on X to L.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import train_eval  # noqa: E402
from glit_torch import GLiT  # noqa: E402


def check(args, arch):
    train_eval.check(GLiT(arch).double(), args)


def export(args, arch):
    torch.manual_seed(args.seed)
    model = GLiT(arch)
    x = torch.from_numpy(np.load(args.input))
    with torch.no_grad():
        model.train()
        model(x)
        model.eval()
        logits = model(x)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    safetensors_io.write(args.out, state, {'format': 'pt', 'architecture': json.dumps(arch)})
    np.save(args.logits, logits.numpy().astype(np.float32))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('action', choices=['check', 'export'])
    parser.add_argument('--arch', required=True)
    parser.add_argument('--checkpoint')
    parser.add_argument('--input', required=True)
    parser.add_argument('--labels')
    parser.add_argument('--smoothing', type=float, default=0.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', required=True)
    parser.add_argument('--logits')
    args = parser.parse_args()
    with open(args.arch) as f:
        arch = json.load(f)
    (check if args.action == 'check' else export)(args, arch)


if __name__ == '__main__':
    main()
