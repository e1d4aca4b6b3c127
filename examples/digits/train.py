"""Train the example model: a small CNN on scikit-learn's bundled 8x8 digits, exported to ONNX.

The data set ships inside scikit-learn (no download). The network is a miniature of the mobile
networks tinyedge targets: conv + BatchNorm + ReLU, a strided conv, a depthwise-separable block with
ReLU6, a 3x3 conv, global average pooling and a linear classifier.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn


def digits_split(seed: int = 0):
    """(x_train, y_train, x_test, y_test): NCHW float32 images scaled to [0, 1], int64 labels."""
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None, :, :]
    return train_test_split(x, d.target.astype(np.int64), test_size=0.25, random_state=seed,
                            stratify=d.target)


def make_model() -> nn.Module:
    """The example CNN (about 180k parameters: big enough that INT8 weights dominate the file)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), nn.BatchNorm2d(64), nn.ReLU6(),
        nn.Conv2d(64, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
        nn.Conv2d(128, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def train(epochs: int = 40, seed: int = 0) -> tuple[nn.Module, tuple]:
    """Train the CNN with Adam; returns the model in eval mode and the data split."""
    torch.manual_seed(seed)
    x_tr, x_te, y_tr, y_te = digits_split(seed)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return model.eval(), (x_tr, y_tr, x_te, y_te)


def export_onnx(model: nn.Module, path: Path) -> None:
    """Export with a batch of one, the shape the device sees."""
    torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(path), input_names=["image"],
                      output_names=["logits"], opset_version=13, dynamo=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default="build/demo", help="where model.onnx and digits_test.npz go")
    p.add_argument("--epochs", type=int, default=40)
    args = p.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, (_, _, x_te, y_te) = train(args.epochs)
    export_onnx(model, out / "model.onnx")
    np.savez(out / "digits_test.npz", x=x_te, y=y_te)
    print(f"wrote {out / 'model.onnx'} and {out / 'digits_test.npz'}")


if __name__ == "__main__":
    main()
