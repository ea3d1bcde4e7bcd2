"""Minimal safetensors reader/writer with json + numpy (the `safetensors` package is not installable everywhere).

Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
then the raw little-endian data. Written independently of lib/io/safetensors.ts, so each side checks the other.
"""
import json
import struct

import numpy as np

DTYPES = {'F32': '<f4', 'F64': '<f8', 'F16': '<f2', 'I64': '<i8', 'BF16': '<u2'}
NAMES = {np.dtype(v): k for k, v in DTYPES.items() if k != 'BF16'}


def read(path):
    """Returns ({name: numpy array}, metadata). BF16 is widened to float32."""
    with open(path, 'rb') as f:
        raw = f.read()
    (length,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + length])
    metadata = header.pop('__metadata__', {})
    data = raw[8 + length:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry['data_offsets']
        a = np.frombuffer(data[begin:end], dtype=DTYPES[entry['dtype']])
        if entry['dtype'] == 'BF16':
            a = (a.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = a.reshape(entry['shape']).copy()
    return tensors, metadata


def write(path, tensors, metadata=None):
    """tensors: {name: numpy array} of float32/float64/float16/int64, written in the dict's order."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        blob = a.astype(a.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': NAMES[a.dtype], 'shape': list(a.shape), 'data_offsets': [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b' ' * (-(len(text) + 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(chunks))
