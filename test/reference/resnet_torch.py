"""An independent PyTorch ResNet of basic blocks, the oracle for test/resnet.test.ts, laid out as torchvision's ResNet
(conv1, bn1, layer{s}.{i}.{conv1, bn1, conv2, bn2, downsample.0, downsample.1}, fc) so state_dict() names match, but
with the stem of the config (no max pool) and the stages' widths of the config (lib/model/resnet.ts's ResnetConfig JSON).

  resnet_torch.py --config C.json --checkpoint CK.safetensors --input X.npy --labels 0,1 --smoothing S --out R.safetensors
      Loads CK strictly in float64, then on X (NCHW): train mode (batch statistics) logits, loss (label smoothing S),
      gradients and buffers afterwards; eval mode (the running statistics that forward left) logits, plain
      cross-entropy, gradients. Written as train/logits, train/loss, train/grad/<name>, train/state/<buffer>, eval/...
"""
import argparse
import json
import os
import sys

import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_eval  # noqa: E402


def conv(inputs, outputs, k, stride):
    return nn.Conv2d(inputs, outputs, k, stride=stride, padding=k // 2, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, inputs, width, stride):
        super().__init__()
        self.conv1 = conv(inputs, width, 3, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv(width, width, 3, 1)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or inputs != width:
            self.downsample = nn.Sequential(conv(inputs, width, 1, stride), nn.BatchNorm2d(width))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self, config):
        super().__init__()
        stem = config['stem']
        self.conv1 = conv(config['inChannels'], stem['width'], stem['kernelSize'], stem['stride'])
        self.bn1 = nn.BatchNorm2d(stem['width'])
        inputs = stem['width']
        for s, stage in enumerate(config['stages']):
            blocks = []
            for b in range(stage['blocks']):
                blocks.append(BasicBlock(inputs, stage['width'], 2 if s > 0 and b == 0 else 1))
                inputs = stage['width']
            setattr(self, f'layer{s + 1}', nn.Sequential(*blocks))
        self.stages = len(config['stages'])
        self.fc = nn.Linear(inputs, config['numClasses'])

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for s in range(self.stages):
            x = getattr(self, f'layer{s + 1}')(x)
        return self.fc(x.mean(dim=(2, 3)))


def main():
    parser = argparse.ArgumentParser()
    for flag in ['--config', '--checkpoint', '--input', '--labels', '--out']:
        parser.add_argument(flag, required=True)
    parser.add_argument('--smoothing', type=float, default=0.0)
    args = parser.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    train_eval.check(ResNet(config).double(), args)


if __name__ == '__main__':
    main()
