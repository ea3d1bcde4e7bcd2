"""Convert an official GLiT or DeiT checkpoint (.pth) to safetensors for glit. Needs torch and numpy only.

    /usr/bin/python3 scripts/convert-official-checkpoint.py glit_tiny.pth glit_tiny.safetensors
    npx glit predict --arch glit-tiny --checkpoint glit_tiny.safetensors --input images.npy
"""
import json
import re
import struct
import sys

import torch

src, dst = sys.argv[1], sys.argv[2]
state = torch.load(src, map_location='cpu')
state = state.get('model', state)  # torch.save({'model': state_dict, ...}) or a bare state_dict
state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}  # saved from DataParallel
# DeiT's own checkpoints name blocks 'blocks.{i}.norm1...'; GLiT's code and glit use 'blocks.{i}.0.norm1...'.
state = {re.sub(r'^blocks\.(\d+)\.(?!0\.)', r'blocks.\1.0.', k): v for k, v in state.items()}
header, blobs, offset = {'__metadata__': {'format': 'pt'}}, [], 0
for name, t in state.items():
    t = t.detach().cpu()
    a = t.float().numpy().astype('<f4') if t.is_floating_point() else t.numpy().astype('<i8')
    header[name] = {'dtype': 'F32' if t.is_floating_point() else 'I64', 'shape': list(a.shape),
                    'data_offsets': [offset, offset + a.nbytes]}
    blobs.append(a.tobytes())
    offset += a.nbytes
text = json.dumps(header).encode()
text += b' ' * (-(len(text) + 8) % 8)  # align the data section to 8 bytes
with open(dst, 'wb') as f:
    f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
