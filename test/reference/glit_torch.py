"""An independent PyTorch reference of the GLiT model, the oracle for test/parity.test.ts.

Written from a description of the official model (the paper's Figure 2, the official code's layer order), not from
lib/: pre-norm blocks x + GL(LN1(x)), x + FFN(LN2(x)); the GL module sends
the first Cg = (C/N)*G channels to G heads of self-attention and the last Cl to the conv path
pointwise(2EC) -> GLU -> depthwise K -> BatchNorm -> Swish -> pointwise, and concatenates [attention, conv].
Module attributes are laid out as in the official code so that state_dict() names match its checkpoints:
cls_token, pos_embed, patch_embed.proj, blocks.{i}.0.{norm1, attn.qkv, attn.proj, attn.net.{1,3.conv,4,6}, norm2,
mlp.fc1, mlp.fc2}, norm, head. Architectures are the JSON of lib/model/arch.ts.

Table 6's local modules (model.localModule; the official code has none): 'window-attention' makes the L local
heads self-attention of head dim C/N under a band mask |query - key| <= w // 2 over the token sequence (CLS first),
as a child `attn.local` with its own qkv and proj; 'conv2d' makes net.3 a depthwise k x k Conv2d on the patch grid.
model.classToken false: no cls_token, and the classifier reads the mean of the normed patch tokens.
"""
import math

import torch
from torch import nn


class TokensToChannels(nn.Module):
    """(B, T, C) -> (B, C, T), so Conv1d runs along the token sequence."""

    def forward(self, x):
        return x.transpose(1, 2)


class ChannelsToTokens(nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


class GatedLinearUnit(nn.Module):
    """Over channels (dim 1): first half * sigmoid(second half)."""

    def forward(self, x):
        value, gate = torch.split(x, x.shape[1] // 2, dim=1)
        return value * torch.sigmoid(gate)


class Depthwise(nn.Module):
    """Holds the depthwise conv as `.conv` (the official name net.3.conv); zero 'same' padding for odd K."""

    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x):
        return self.conv(x)


class GridDepthwise(nn.Module):
    """The 'conv2d' module's net.3: (B, C, T) with T a square grid in row-major order -> k x k depthwise conv -> (B, C, T)."""

    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x):
        b, c, t = x.shape
        side = math.isqrt(t)
        return self.conv(x.reshape(b, c, side, side)).flatten(2)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def attend(qkv, proj, x, heads, window=None):
    """Multi-head self-attention; with `window`, query i sees only keys j with |i - j| <= window // 2."""
    b, t, _ = x.shape
    inner = proj.in_features
    dim = inner // heads
    # qkv features are (3, heads, dim): q of every head, then k, then v.
    q, k, v = qkv(x).view(b, t, 3, heads, dim).permute(2, 0, 3, 1, 4)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dim)
    if window is not None:
        i = torch.arange(t)
        scores = scores.masked_fill((i[:, None] - i[None, :]).abs() > window // 2, float('-inf'))
    mixed = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, t, inner)
    return proj(mixed)


class WindowAttention(nn.Module):
    """The 'window-attention' local heads: `heads` heads of dim width // heads over a window of tokens."""

    def __init__(self, width, heads, window):
        super().__init__()
        self.heads = heads
        self.window = window
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        return attend(self.qkv, self.proj, x, self.heads, self.window)


class GlobalLocal(nn.Module):
    def __init__(self, width, heads, gene, local_module='conv1d', window=None):
        super().__init__()
        self.global_heads = gene['globalHeads']
        self.cg = width // heads * self.global_heads
        self.cl = width - self.cg
        if self.cg > 0:
            inner = round(self.cg * gene['qkvRatio'])
            self.qkv = nn.Linear(self.cg, 3 * inner)
            self.proj = nn.Linear(inner, self.cg)
        self.local = None
        self.net = None
        if self.cl > 0 and local_module == 'window-attention':
            self.local = WindowAttention(self.cl, heads - self.global_heads, window)
        elif self.cl > 0:
            inner = self.cl * gene['convExpansion']
            depthwise = GridDepthwise if local_module == 'conv2d' else Depthwise
            self.net = nn.Sequential(
                TokensToChannels(),                                  # 0
                nn.Conv1d(self.cl, 2 * inner, 1),                    # 1
                GatedLinearUnit(),                                   # 2
                depthwise(inner, gene['kernelSize']),                # 3
                nn.BatchNorm1d(inner, eps=1e-5, momentum=0.1),       # 4
                Swish(),                                             # 5
                nn.Conv1d(inner, self.cl, 1),                        # 6
                ChannelsToTokens(),                                  # 7
            )

    def forward(self, x):
        parts = []
        if self.cg > 0:
            parts.append(attend(self.qkv, self.proj, x[..., :self.cg], self.global_heads))
        if self.cl > 0:
            parts.append((self.net if self.local is None else self.local)(x[..., self.cg:]))
        return torch.cat(parts, dim=-1)


class Mlp(nn.Module):
    def __init__(self, width, hidden, activation):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU() if activation == 'gelu' else Swish()  # nn.GELU(): exact erf form
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, model, gene):
        super().__init__()
        c = model['width']
        self.norm1 = nn.LayerNorm(c, eps=1e-6)
        self.attn = GlobalLocal(c, model['heads'], gene, model.get('localModule', 'conv1d'), model.get('localWindow'))
        self.norm2 = nn.LayerNorm(c, eps=1e-6)
        self.mlp = Mlp(c, round(c * gene['ffnRatio']), model.get('ffnActivation', 'gelu'))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_channels, width, patch):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, width, patch, stride=patch)

    def forward(self, images):
        return self.proj(images).flatten(2).transpose(1, 2)  # (B, C, rows, cols) -> (B, rows*cols, C), row-major


class GLiT(nn.Module):
    def __init__(self, arch):
        super().__init__()
        m = arch['model']
        self.class_token = m.get('classToken', True)
        tokens = (m['imageSize'] // m['patchSize']) ** 2 + (1 if self.class_token else 0)
        if self.class_token:
            self.cls_token = nn.Parameter(torch.randn(1, 1, m['width']) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, m['width']) * 0.02)
        self.patch_embed = PatchEmbed(m['inChannels'], m['width'], m['patchSize'])
        # One-element ModuleLists: the official code keeps each block as the chosen entry of a candidate list.
        self.blocks = nn.ModuleList([nn.ModuleList([Block(m, gene)]) for gene in arch['blocks']])
        self.norm = nn.LayerNorm(m['width'], eps=1e-6)
        self.head = nn.Linear(m['width'], m['numClasses'])

    def forward(self, images):
        x = self.patch_embed(images)
        if self.class_token:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        for (blk,) in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x[:, 0] if self.class_token else x.mean(dim=1))
