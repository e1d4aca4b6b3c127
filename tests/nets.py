"""PyTorch networks the tests build from scratch and export to ONNX (no weights are downloaded).

MobileNetV2 follows Sandler et al. 2018 (inverted residuals, linear bottlenecks, ReLU6); the ResNet is
ResNet-18's basic-block layout (He et al. 2016). Weights are random, BatchNorm statistics are
randomized so that folding them matters.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def conv_bn(cin, cout, k=3, stride=1, groups=1, act=nn.ReLU6):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn(cin, hidden, 1)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


def mobilenet_v2(num_classes=1000, width=1.0) -> nn.Module:
    """MobileNetV2 with the paper's block settings (t, c, n, s)."""
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]
    c = int(32 * width)
    layers = [conv_bn(3, c, 3, 2)]
    for t, ch, n, s in settings:
        out = int(ch * width)
        for i in range(n):
            layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
            c = out
    last = max(1280, int(1280 * width))
    layers += [conv_bn(c, last, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
               nn.Linear(last, num_classes)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, 3, stride, act=nn.ReLU), conv_bn(cout, cout, 3, act=None))
        self.short = conv_bn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))


def resnet18(num_classes=1000, width=64) -> nn.Module:
    """ResNet-18: 7x7 stem, max pool, four stages of two basic blocks, global pool, linear."""
    layers = [nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    c = width
    for i, mult in enumerate((1, 2, 4, 8)):
        out = width * mult
        layers += [BasicBlock(c, out, 1 if i == 0 else 2), BasicBlock(out, out, 1)]
        c = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine parameters; return the model in eval mode."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


def export(model: nn.Module, shape, path: Path, opset: int = 13) -> Path:
    """Export to ONNX with the TorchScript exporter (what most deployed models went through)."""
    torch.onnx.export(model, (torch.zeros(*shape),), str(path), input_names=["input"],
                      output_names=["output"], opset_version=opset, dynamo=False)
    return path
