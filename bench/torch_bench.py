"""PyTorch side of `npm run bench`: times training steps of the reference model (test/reference/glit_torch.py).

Reads one JSON job on stdin and prints one JSON result on stdout:
  job:    {"arch": <architecture JSON of lib/model/arch.ts>, "batch": 64, "warmup": 2, "windows": 3, "steps": 2,
           "labelSmoothing": 0.1, "clipNorm": 1.0, "lr": 1e-3, "weightDecay": 0.05, "device": "cpu" | "cuda"}
  result: {"img_per_s", "window_s": [...], "img_per_cpu_s", "peak_mem_mb", "mem_method", "device", "torch", "threads",
           "blas_core"}
The step is what lib/train/train.ts trainStep does: forward in train mode, label-smoothed cross-entropy, backward, global-norm
clipping, AdamW (no decay on 1-D parameters, cls_token, pos_embed), on one fixed seeded batch. fp32 eager, no TF32.
A window is `steps` steps followed by a sync (a read of the loss); the result is the median window, by the wall clock
and by the process's CPU time (img_per_cpu_s: what other processes on a shared CPU barely move).
"""
import ctypes
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'reference'))
from glit_torch import GLiT  # noqa: E402


def rss_mb():
    """Resident set size now, from /proc (ru_maxrss only gives the peak)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def openblas_core():
    """The core of the OpenBLAS this process loaded (through torch), or None when it runs another BLAS."""
    with open('/proc/self/maps') as f:
        libraries = sorted({line.split()[-1] for line in f if 'openblas' in line and '.so' in line})
    for path in libraries:
        try:
            name = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        name.restype = ctypes.c_char_p
        return name().decode()
    return None


def main():
    job = json.load(sys.stdin)
    device = torch.device(job['device'])
    if device.type == 'cuda' and not torch.cuda.is_available():
        sys.exit(f'torch {torch.__version__} sees no CUDA GPU (built with CUDA {torch.version.cuda}); ours runs on a GPU, so would this')
    # Ours computes in plain float32; keep PyTorch from TF32 matmuls and convolutions on the GPU.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    m = job['arch']['model']
    batch = job['batch']
    x = torch.randn(batch, m['inChannels'], m['imageSize'], m['imageSize'], device=device)
    y = torch.arange(batch, device=device) % m['numClasses']
    cuda = device.type == 'cuda'
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    rss_before = rss_mb()

    model = GLiT(job['arch']).to(device).train()
    no_decay = lambda name, p: p.ndim <= 1 or name in ('cls_token', 'pos_embed')  # noqa: E731
    named = list(model.named_parameters())
    optimizer = torch.optim.AdamW(
        [{'params': [p for n, p in named if not no_decay(n, p)], 'weight_decay': job['weightDecay']},
         {'params': [p for n, p in named if no_decay(n, p)], 'weight_decay': 0.0}],
        lr=job['lr'])

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=job['labelSmoothing'])
        loss.backward()
        if job['clipNorm'] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), job['clipNorm'])
        optimizer.step()
        return loss

    for _ in range(job['warmup']):
        step().item()
    windows, cpu = [], []
    for _ in range(job['windows']):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(job['steps']):
            loss = step()
        loss.item()  # the sync: waits for the GPU's queue
        windows.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    images = batch * job['steps']
    if cuda:
        peak, method = torch.cuda.max_memory_allocated() / 2**20, 'torch.cuda.max_memory_allocated'
    else:
        # Peak RSS of the process over the RSS before the model was built: parameters, optimizer state, activations
        # and the allocator's cached pages (an upper bound on the tensors' own peak).
        peak, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before, 'peak RSS - RSS before the model'
    json.dump({
        'img_per_s': images / statistics.median(windows),
        'window_s': windows,
        'img_per_cpu_s': images / statistics.median(cpu),
        'peak_mem_mb': peak,
        'mem_method': method,
        'device': torch.cuda.get_device_name(device) if cuda else 'cpu',
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'blas_core': openblas_core(),
    }, sys.stdout)
    print()


if __name__ == '__main__':
    main()
