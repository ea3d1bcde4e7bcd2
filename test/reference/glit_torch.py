"""An independent PyTorch reference of the GLiT model, the oracle for test/parity.test.ts.

Written from the spec (section 1), not from lib/: pre-norm blocks x + GL(LN1(x)), x + FFN(LN2(x)); the GL module sends
the first Cg = (C/N)*G channels to G heads of self-attention and the last Cl to the conv path
pointwise(2EC) -> GLU -> depthwise K -> BatchNorm -> Swish -> pointwise, and concatenates [attention, conv].
Module attributes are laid out as in the official code so that state_dict() names match its checkpoints:
cls_token, pos_embed, patch_embed.proj, blocks.{i}.0.{norm1, attn.qkv, attn.proj, attn.net.{1,3.conv,4,6}, norm2,
mlp.fc1, mlp.fc2}, norm, head. Architectures are the JSON of lib/arch.ts.
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


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class GlobalLocal(nn.Module):
    def __init__(self, width, heads, gene):
        super().__init__()
        self.global_heads = gene['globalHeads']
        self.cg = width // heads * self.global_heads
        self.cl = width - self.cg
        if self.cg > 0:
            inner = round(self.cg * gene['qkvRatio'])
            self.qkv = nn.Linear(self.cg, 3 * inner)
            self.proj = nn.Linear(inner, self.cg)
        if self.cl > 0:
            inner = self.cl * gene['convExpansion']
            self.net = nn.Sequential(
                TokensToChannels(),                                  # 0
                nn.Conv1d(self.cl, 2 * inner, 1),                    # 1
                GatedLinearUnit(),                                   # 2
                Depthwise(inner, gene['kernelSize']),                # 3
                nn.BatchNorm1d(inner, eps=1e-5, momentum=0.1),       # 4
                Swish(),                                             # 5
                nn.Conv1d(inner, self.cl, 1),                        # 6
                ChannelsToTokens(),                                  # 7
            )

    def attend(self, x):
        b, t, _ = x.shape
        inner = self.proj.in_features
        dim = inner // self.global_heads
        # qkv features are (3, heads, dim): q of every head, then k, then v.
        q, k, v = self.qkv(x).view(b, t, 3, self.global_heads, dim).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dim), dim=-1)
        mixed = torch.matmul(weights, v).transpose(1, 2).reshape(b, t, inner)
        return self.proj(mixed)

    def forward(self, x):
        parts = []
        if self.cg > 0:
            parts.append(self.attend(x[..., :self.cg]))
        if self.cl > 0:
            parts.append(self.net(x[..., self.cg:]))
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
        self.attn = GlobalLocal(c, model['heads'], gene)
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
        tokens = (m['imageSize'] // m['patchSize']) ** 2 + 1
        self.cls_token = nn.Parameter(torch.randn(1, 1, m['width']) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, m['width']) * 0.02)
        self.patch_embed = PatchEmbed(m['inChannels'], m['width'], m['patchSize'])
        # One-element ModuleLists: the official code keeps each block as the chosen entry of a candidate list.
        self.blocks = nn.ModuleList([nn.ModuleList([Block(m, gene)]) for gene in arch['blocks']])
        self.norm = nn.LayerNorm(m['width'], eps=1e-6)
        self.head = nn.Linear(m['width'], m['numClasses'])

    def forward(self, images):
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for (blk,) in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])
