"""PyTorch reference for the benchmark: the chapter-14 ResNets on 28x28x1, 10 classes.

Usage: /usr/bin/python3 bench/torch_resnet.py --model resnet2 --batch 64 --threads 2 --steps 30
Prints one JSON line: {"model", "batch", "threads", "images_per_s": [per-run values], "median"}.
The architecture mirrors src/blocks.ts: ConvLayer = conv(no bias, padding ks//2) -> BN -> ReLU;
ResBlock = relu(convs(x) + idconv(pool(x))) with BatchZero on the second conv's BN.
"""
import argparse, json, statistics, time
import torch
from torch import nn
import torch.nn.functional as F


def conv_layer(ni, nf, ks=3, stride=1, act=True, bn_zero=False):
    bn = nn.BatchNorm2d(nf)
    nn.init.constant_(bn.weight, 0.0 if bn_zero else 1.0)
    layers = [nn.Conv2d(ni, nf, ks, stride=stride, padding=ks // 2, bias=False), bn]
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    def __init__(self, ni, nf, stride=1):
        super().__init__()
        self.convs = nn.Sequential(conv_layer(ni, nf, stride=stride), conv_layer(nf, nf, act=False, bn_zero=True))
        self.idconv = nn.Identity() if ni == nf else conv_layer(ni, nf, 1, act=False)
        self.pool = nn.Identity() if stride == 1 else nn.AvgPool2d(2, ceil_mode=True)

    def forward(self, x):
        return F.relu(self.convs(x) + self.idconv(self.pool(x)))


def model(kind, n_in=1, n_classes=10, channels=(16, 32, 64, 128, 256)):
    chans = [n_in, *channels]
    if kind == "resnet":
        blocks = [ResBlock(chans[i], chans[i + 1], 2) for i in range(len(channels))]
    else:
        blocks = [nn.Sequential(ResBlock(chans[i], chans[i + 1], 2), ResBlock(chans[i + 1], chans[i + 1])) for i in range(len(channels))]
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], n_classes))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="resnet2", choices=["resnet", "resnet2"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = model(a.model)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.randn(a.batch, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.batch * a.steps / (time.perf_counter() - t0))
    print(json.dumps({"model": a.model, "batch": a.batch, "threads": a.threads, "images_per_s": rates, "median": statistics.median(rates)}))


if __name__ == "__main__":
    main()
