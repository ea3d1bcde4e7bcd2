"""What both reference drivers (parity.py, resnet_torch.py) do to check a checkpoint: train mode, then eval mode."""
import numpy as np
import torch
import torch.nn.functional as F

import safetensors_io


def run_mode(model, x, labels, smoothing, prefix, out):
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    loss.backward()
    out[f'{prefix}/logits'] = logits.detach().numpy()
    out[f'{prefix}/loss'] = loss.detach().numpy()
    for name, p in model.named_parameters():
        out[f'{prefix}/grad/{name}'] = p.grad.numpy()


def check(model, args):
    """Loads args.checkpoint strictly into the float64 model, runs train mode (label smoothing args.smoothing, batch
    statistics) and eval mode (the running statistics train mode left, plain cross-entropy) on args.input with
    args.labels, and writes train/logits, train/loss, train/grad/<name>, train/state/<buffer>, eval/... to args.out."""
    tensors, _ = safetensors_io.read(args.checkpoint)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    x = torch.from_numpy(np.load(args.input)).double()
    labels = torch.tensor([int(s) for s in args.labels.split(',')])
    out = {}
    model.train()
    run_mode(model, x, labels, args.smoothing, 'train', out)
    for name, b in model.named_buffers():
        out[f'train/state/{name}'] = b.numpy().copy()
    model.eval()
    run_mode(model, x, labels, 0.0, 'eval', out)
    safetensors_io.write(args.out, out)
