"""torch modules for tools/make_real_models.py: a PaddleOCR-style DBNet text detector, an
SVTR-tiny-style text recognizer, a small U-Net and a transformer block. Architectures are written
from the published descriptions (DBNet: Liao et al. 2020; SVTR: Du et al. 2022; U-Net:
Ronneberger et al. 2015); the code is ours. Weights are random (seeded by the caller).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def cbn(cin, cout, k, s=1, groups=1, act=None):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def make_divisible(v, d=8):
    return max(d, int(v + d / 2) // d * d)


class SE(nn.Module):
    # PaddleOCR's MobileNetV3 SE: avg pool, 1x1 conv, relu, 1x1 conv, hardsigmoid(slope 0.2).
    def __init__(self, c):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.c1 = nn.Conv2d(c, make_divisible(c // 4), 1)
        self.c2 = nn.Conv2d(make_divisible(c // 4), c, 1)

    def forward(self, x):
        s = self.c2(F.relu(self.c1(self.pool(x))))
        return x * F.hardsigmoid(s)  # alpha rewritten to paddle's 0.2 after export


class ResidualUnit(nn.Module):
    def __init__(self, cin, mid, cout, k, s, se, act):
        super().__init__()
        self.expand = cbn(cin, mid, 1, act=act)
        self.dw = cbn(mid, mid, k, s, groups=mid, act=act)
        self.se = SE(mid) if se else nn.Identity()
        self.project = cbn(mid, cout, 1)
        self.shortcut = s == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.shortcut else y


# MobileNetV3-small (k, exp, out, se, act, stride), as in PaddleOCR's det_mobilenet_v3.
V3_SMALL = [(3, 16, 16, True, nn.ReLU, 2), (3, 72, 24, False, nn.ReLU, 2), (3, 88, 24, False, nn.ReLU, 1),
            (5, 96, 40, True, nn.Hardswish, 2), (5, 240, 40, True, nn.Hardswish, 1),
            (5, 240, 40, True, nn.Hardswish, 1), (5, 120, 48, True, nn.Hardswish, 1),
            (5, 144, 48, True, nn.Hardswish, 1), (5, 288, 96, True, nn.Hardswish, 2),
            (5, 576, 96, True, nn.Hardswish, 1), (5, 576, 96, True, nn.Hardswish, 1)]


class DBNet(nn.Module):
    """Backbone giving 1/4, 1/8, 1/16, 1/32 features; FPN (1x1 lateral, nearest x2 upsample + Add,
    3x3 smooth, nearest upsample to 1/4, Concat); DB head (3x3 conv BN relu, two ConvTranspose
    2x2/2, BN relu between, Sigmoid)."""

    def __init__(self, scale=1.0, inner=96):
        super().__init__()
        c = make_divisible(16 * scale)
        self.stem = cbn(3, c, 3, 2, act=nn.Hardswish)
        stages, cur, outs = [], [], []
        for i, (k, e, o, se, act, s) in enumerate(V3_SMALL):
            if s == 2 and i > 0:
                stages.append(nn.Sequential(*cur))
                outs.append(c)
                cur = []
            e, o = make_divisible(e * scale), make_divisible(o * scale)
            cur.append(ResidualUnit(c, e, o, k, s, se, act))
            c = o
        last = make_divisible(576 * scale)
        cur.append(cbn(c, last, 1, act=nn.Hardswish))
        stages.append(nn.Sequential(*cur))
        outs.append(last)
        # The first stage is at 1/4 already (stem /2, first unit /2).
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList(nn.Conv2d(ci, inner, 1, bias=False) for ci in outs)
        self.smooth = nn.ModuleList(nn.Conv2d(inner, inner // 4, 3, padding=1, bias=False) for _ in outs)
        q = inner // 4
        self.head = nn.Sequential(
            nn.Conv2d(inner, q, 3, padding=1, bias=False), nn.BatchNorm2d(q), nn.ReLU(),
            nn.ConvTranspose2d(q, q, 2, 2), nn.BatchNorm2d(q), nn.ReLU(),
            nn.ConvTranspose2d(q, 1, 2, 2), nn.Sigmoid())

    def forward(self, x):
        feats = []
        x = self.stem(x)
        for st in self.stages:
            x = st(x)
            feats.append(x)
        lat = [m(f) for m, f in zip(self.lateral, feats)]
        for i in range(len(lat) - 1, 0, -1):
            lat[i - 1] = lat[i - 1] + F.interpolate(lat[i], scale_factor=2.0, mode="nearest")
        ps = [m(f) for m, f in zip(self.smooth, lat)]
        ps = [p if i == 0 else F.interpolate(p, scale_factor=2.0 ** i, mode="nearest") for i, p in enumerate(ps)]
        return self.head(torch.cat(ps[::-1], 1))


class PaddleLayerNorm(nn.Module):
    # Spelled as paddle2onnx spells layer_norm at opset 11: ReduceMean, Sub, Pow(2), ReduceMean,
    # Add(eps), Sqrt, Div, Mul, Add.
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(c))
        self.bias = nn.Parameter(0.1 * torch.randn(c))
        self.eps = eps

    def forward(self, x):
        d = x - x.mean(-1, keepdim=True)
        var = d.pow(2.0).mean(-1, keepdim=True)
        return d / torch.sqrt(var + self.eps) * self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads, self.scale = heads, (c // heads) ** -0.5
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        n, l, c = x.shape
        qkv = self.qkv(x).reshape(n, l, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        a = torch.softmax(q.matmul(k.permute(0, 1, 3, 2)), dim=-1)
        return self.proj(a.matmul(v).permute(0, 2, 1, 3).reshape(n, l, c))


class Block(nn.Module):
    def __init__(self, c, heads, mlp_ratio=4):
        super().__init__()
        self.n1, self.attn, self.n2 = PaddleLayerNorm(c), Attention(c, heads), PaddleLayerNorm(c)
        self.mlp = nn.Sequential(nn.Linear(c, mlp_ratio * c), nn.GELU(), nn.Linear(mlp_ratio * c, c))

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.mlp(self.n2(x))


class SVTR(nn.Module):
    """Patch embedding (two 3x3/2 conv BN GELU: 48xW -> 12xW/4), global-mixing blocks per stage,
    merging by 3x3 conv stride (2,1) between stages, height pooled away, Linear + Softmax over the
    character set per column: output [N, W/4, classes]."""

    def __init__(self, dims=(64, 128, 256), depths=(3, 6, 3), heads=(2, 4, 8), classes=6625, mlp_ratio=4):
        super().__init__()
        self.embed = nn.Sequential(cbn(3, dims[0] // 2, 3, 2, act=nn.GELU), cbn(dims[0] // 2, dims[0], 3, 2, act=nn.GELU))
        self.stages = nn.ModuleList(nn.Sequential(*[Block(d, h, mlp_ratio) for _ in range(n)])
                                    for d, n, h in zip(dims, depths, heads))
        self.merge = nn.ModuleList(nn.Conv2d(dims[i], dims[i + 1], 3, (2, 1), 1) for i in range(len(dims) - 1))
        self.norm = PaddleLayerNorm(dims[-1])
        self.fc = nn.Linear(dims[-1], classes)

    def forward(self, x):
        x = self.embed(x)
        for i, st in enumerate(self.stages):
            n, c, h, w = x.shape
            x = st(x.flatten(2).permute(0, 2, 1))
            x = x.permute(0, 2, 1).reshape(n, c, h, w)
            if i < len(self.merge):
                x = self.merge[i](x)
        x = x.mean(2).permute(0, 2, 1)  # [N, W/4, C]
        return torch.softmax(self.fc(self.norm(x)), dim=-1)


class UNet(nn.Module):
    """Encoder of double 3x3 conv BN ReLU with max pooling; decoder alternating bilinear Resize
    and ConvTranspose upsampling, Concat skips; 1x1 conv and Sigmoid."""

    def __init__(self, base=16, levels=4, classes=1):
        super().__init__()
        ch = [base * 2 ** i for i in range(levels)]
        self.down = nn.ModuleList()
        cin = 3
        for c in ch:
            self.down.append(nn.Sequential(cbn(cin, c, 3, act=nn.ReLU), cbn(c, c, 3, act=nn.ReLU)))
            cin = c
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for i in range(levels - 1, 0, -1):
            if i % 2:
                self.up.append(nn.ConvTranspose2d(ch[i], ch[i - 1], 2, 2))
            else:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False),
                                             nn.Conv2d(ch[i], ch[i - 1], 1)))
            self.dec.append(nn.Sequential(cbn(2 * ch[i - 1], ch[i - 1], 3, act=nn.ReLU),
                                          cbn(ch[i - 1], ch[i - 1], 3, act=nn.ReLU)))
        self.out = nn.Conv2d(ch[0], classes, 1)

    def forward(self, x):
        skips = []
        for i, d in enumerate(self.down):
            x = d(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], 1))
        return torch.sigmoid(self.out(x))


class TransformerBlock(nn.Module):
    """Pre-norm causal transformer layer over [N, L, C] with learned positions: positions from
    Range(Shape), causal mask Greater -> Expand -> Where, nn.LayerNorm (LayerNormalization at
    opset 17), Erf GELU."""

    def __init__(self, c=64, heads=4, max_len=64, layers=2):
        super().__init__()
        self.pos = nn.Parameter(0.1 * torch.randn(max_len, c))
        self.blocks = nn.ModuleList(nn.ModuleDict(dict(
            n1=nn.LayerNorm(c), qkv=nn.Linear(c, 3 * c), proj=nn.Linear(c, c), n2=nn.LayerNorm(c),
            mlp=nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c)))) for _ in range(layers))
        self.heads = heads
        self.norm = nn.LayerNorm(c)

    def forward(self, x):
        n, l, c = x.shape
        pos = torch.arange(l)
        x = x + self.pos[pos]
        mask = (pos[None, :] > pos[:, None]).expand(n, self.heads, l, l)
        for b in self.blocks:
            h = b["n1"](x)
            qkv = b["qkv"](h).reshape(n, l, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            s = qkv[0].matmul(qkv[1].transpose(-1, -2)) * (c // self.heads) ** -0.5
            s = torch.where(mask, torch.full_like(s, -1e4), s)
            a = torch.softmax(s, dim=-1).matmul(qkv[2]).transpose(1, 2).reshape(n, l, c)
            x = x + b["proj"](a)
            x = x + b["mlp"](b["n2"](x))
        return self.norm(x)
