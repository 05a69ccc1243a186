"""Reference PyTorch definition of the DFGaze inference graph (our own code).

Written from a reading of the authors' modules (github.com/ziminMIAO/DFGaze: l2cs1.py,
res2net_v1b.py, attributecnn.py, models/PSTA_8_att.py, STAM.py, SRA.py, TRA.py); module
and attribute names follow their state-dict keys so that `state_dict()` equals
Tests/Fixtures/dfgaze-demo-v1/checkpoint_keys.json key for key. Only the inference path is
kept: heads the pipeline never reads (fc_finetune, Res2Net fc, ResNet-34 base.fc, the
aggregator's ResNet-50 `base`) exist for their keys but are not run.

Also here: the `dfgaze-demo-v1` weight recipe (SPEC.md section 1) and the frame
preprocessing (SPEC.md section 2), shared by the other scripts of this folder.
"""
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models.resnet import Bottleneck

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "Tests/Fixtures/dfgaze-demo-v1"
NETWORKS = ("gam", "tam", "aam", "agg")


# ---------------------------------------------------------------------------
# GAM: L2CS gaze network, a ResNet-50 trunk with two 90-bin heads.

class ResNetTrunk(nn.Module):
    """conv1/bn1/maxpool + layer1..4 of torchvision Bottlenecks (ResNet-50 layout)."""

    def __init__(self, layers=(3, 4, 6, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            outplanes = planes * Bottleneck.expansion
            downsample = nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride, bias=False),
                                       nn.BatchNorm2d(outplanes))
            stage = [Bottleneck(inplanes, planes, stride, downsample)]
            stage += [Bottleneck(outplanes, planes) for _ in range(1, blocks)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            inplanes = outplanes

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class GAM(ResNetTrunk):
    """L2CS: returns (yaw logits, pitch logits, layer4 map 2048x7x7)."""

    def __init__(self, num_bins=90):
        super().__init__()
        self.fc_yaw_gaze = nn.Linear(2048, num_bins)
        self.fc_pitch_gaze = nn.Linear(2048, num_bins)
        self.fc_finetune = nn.Linear(2048 + 3, 3)  # vestigial in the authors' code, never run

    def forward(self, x):
        layer4 = super().forward(x)
        pooled = layer4.mean((2, 3))
        return self.fc_yaw_gaze(pooled), self.fc_pitch_gaze(pooled), layer4


# ---------------------------------------------------------------------------
# TAM: Res2Net-101 v1b 26w4s texture network; its layer4 map is the output.

class Bottle2neck(nn.Module):
    """Res2Net block: the 3x3 stage is split into `scale` groups of `width` channels,
    each group (but the last) convolved after adding the previous group's output;
    a 'stage' block (first of a layer) convolves the groups independently and
    average-pools the last one."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, stage=False,
                 base_width=26, scale=4):
        super().__init__()
        width = planes * base_width // 64
        self.conv1 = nn.Conv2d(inplanes, width * scale, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, stride, 1, bias=False)
                                   for _ in range(scale - 1))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(scale - 1))
        self.conv3 = nn.Conv2d(width * scale, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.pool = nn.AvgPool2d(3, stride, 1) if stage else None
        self.width = width

    def forward(self, x):
        splits = torch.relu(self.bn1(self.conv1(x))).split(self.width, 1)
        outs = []
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            sp = splits[i] if i == 0 or self.pool is not None else sp + splits[i]
            sp = torch.relu(bn(conv(sp)))
            outs.append(sp)
        outs.append(splits[-1] if self.pool is None else self.pool(splits[-1]))
        out = self.bn3(self.conv3(torch.cat(outs, 1)))
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + identity)


class TAM(nn.Module):
    def __init__(self, layers=(3, 4, 23, 3)):
        super().__init__()
        # v1b deep stem: three 3x3 convs instead of one 7x7
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, 1, 1, bias=False))
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            # v1b shortcut: average-pool then 1x1 conv, instead of a strided 1x1 conv
            downsample = nn.Sequential(
                nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False),
                nn.Conv2d(inplanes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4))
            stage = [Bottle2neck(inplanes, planes, stride, downsample, stage=True)]
            stage += [Bottle2neck(planes * 4, planes) for _ in range(1, blocks)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            inplanes = planes * 4
        self.fc = nn.Linear(200704, 2)  # training head over flattened layer3, never run

    def forward(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


# ---------------------------------------------------------------------------
# AAM: FairFace ResNet-34 attributes, lifted to 2048 channels by `fc`.

class AAM(nn.Module):
    def __init__(self):
        super().__init__()
        self.base = torchvision.models.resnet34()
        self.base.fc = nn.Linear(512, 18)  # FairFace attribute head, never run
        self.fc = nn.Linear(512, 2048)

    def forward(self, x):
        b = self.base
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        x = b.layer4(b.layer3(b.layer2(b.layer1(x))))
        n, c, h, w = x.shape
        # The authors' `view(b*h*w, c)` on the channel-first buffer: each row is a run of
        # 512 consecutive floats of [c][h][w] memory, not one position's channels.
        return self.fc(x.reshape(n * h * w, c)).reshape(n, -1, h, w)


# ---------------------------------------------------------------------------
# Aggregator: PSTA with STAM = TRA (temporal) + SRA (spatial) + conv block.

def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def relation_maps(query, key, h, w):
    """Gs = query^T key over positions; returns (Gs^T, Gs) each as (n, hw, h, w)."""
    gs = query.transpose(1, 2) @ key
    n = gs.shape[0]
    return gs.transpose(1, 2).reshape(n, h * w, h, w), gs.reshape(n, h * w, h, w)


class TRA(nn.Module):
    """Temporal reconstruction: fuses maps (i, i+1) for i in range(0, t, stride)."""

    def __init__(self, c, stride):
        super().__init__()
        self.stride = stride
        self.gamma_temporal = nn.Sequential(*conv_bn_relu(c, c // 8))
        self.beta_temporal = nn.Sequential(*conv_bn_relu(c, c // 8))
        self.gg_temporal = nn.Sequential(*conv_bn_relu(98, 128))
        self.tte_para = nn.Sequential(*conv_bn_relu(256, 128))
        self.te_para = nn.Sequential(nn.Conv2d(256, 1, 1, bias=False), nn.BatchNorm2d(1), nn.Sigmoid())
        self.theta_channel = nn.Sequential(nn.Conv1d(c, c // 8, 1, bias=False), nn.ReLU(inplace=True))
        self.channel_para = nn.Sequential(nn.Linear(c // 4, c // 8), nn.ReLU(inplace=True),
                                          nn.Linear(c // 8, c), nn.Sigmoid())

    def forward(self, feat_map, flat_map, feat_vect, embed):
        b, t, c, h, w = feat_map.shape
        gamma = self.gamma_temporal(flat_map).reshape(b, t, -1, h * w)
        beta = self.beta_temporal(flat_map).reshape(b, t, -1, h * w)
        theta = self.theta_channel(feat_vect.transpose(1, 2))  # (b, c/8, t)
        out = []
        for i in range(0, t, self.stride):
            j = i + 1
            ch_i = self.channel_para(torch.cat((theta[:, :, i], theta[:, :, j]), 1)).reshape(b, c, 1, 1)
            ch_j = self.channel_para(torch.cat((theta[:, :, j], theta[:, :, i]), 1)).reshape(b, c, 1, 1)
            in_ij, out_ij = relation_maps(gamma[:, i], beta[:, j], h, w)
            in_ji, out_ji = relation_maps(gamma[:, j], beta[:, i], h, w)
            alpha = self.te_para(torch.cat((self.tte_para(torch.cat((embed[:, i], embed[:, j]), 1)),
                                            self.gg_temporal(torch.cat((in_ij, out_ji), 1))), 1))
            beta_ = self.te_para(torch.cat((self.tte_para(torch.cat((embed[:, j], embed[:, i]), 1)),
                                            self.gg_temporal(torch.cat((in_ji, out_ij), 1))), 1))
            fused = torch.relu(ch_i * alpha * feat_map[:, i] + ch_j * beta_ * feat_map[:, j])
            out.append(fused ** 2)
        return torch.stack(out, 1)


class SRA(nn.Module):
    """Spatial reconstruction: adds a spatially re-weighted (i, i+1) sum to TRA's output."""

    def __init__(self, c, stride):
        super().__init__()
        self.stride = stride
        self.alphi_appearance = nn.Sequential(*conv_bn_relu(c, c // 8))
        self.delta_appearance = nn.Sequential(*conv_bn_relu(c, c // 8))
        self.gg_spatial = nn.Sequential(*conv_bn_relu(98, 128))
        self.spa_para = nn.Sequential(*conv_bn_relu(256, 128), nn.Conv2d(128, 1, 1, bias=False),
                                      nn.BatchNorm2d(1), nn.Sigmoid())
        self.app_channel = nn.Sequential(nn.Linear(c, c // 8), nn.ReLU(inplace=True),
                                         nn.Linear(c // 8, c), nn.Sigmoid())

    def forward(self, feat_map, flat_map, embed, feat_vect, temporal):
        b, t, c, h, w = feat_map.shape
        alphi = self.alphi_appearance(flat_map).reshape(b * t, -1, h * w)
        delta = self.delta_appearance(flat_map).reshape(b * t, -1, h * w)
        gs_joint = self.gg_spatial(torch.cat(relation_maps(alphi, delta, h, w), 1))
        spatial = self.spa_para(torch.cat((embed.reshape(b * t, -1, h, w), gs_joint), 1))
        spatial = spatial.reshape(b, t, 1, h, w)
        out = []
        for i in range(0, t, self.stride):
            p_i = self.app_channel(feat_vect[:, i]).reshape(b, c, 1, 1) * spatial[:, i]
            p_j = self.app_channel(feat_vect[:, i + 1]).reshape(b, c, 1, 1) * spatial[:, i + 1]
            out.append(temporal[:, i // self.stride]
                       + torch.relu(p_i * feat_map[:, i] + p_j * feat_map[:, i + 1]))
        return torch.stack(out, 1).reshape(-1, c, h, w)


class STAM(nn.Module):
    """(b, t, c, h, w) -> (b, len(range(0, t, stride)), c, h, w)."""

    def __init__(self, c, mid, stride):
        super().__init__()
        self.Embeding = nn.Sequential(*conv_bn_relu(c, mid), *conv_bn_relu(mid, 128))
        self.TRAG = TRA(c, stride)
        self.SRAG = SRA(c, stride)
        self.conv_block = nn.Sequential(
            *conv_bn_relu(c, mid),
            nn.Conv2d(mid, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            *conv_bn_relu(mid, c))

    def forward(self, feat_map):
        b, t, c, h, w = feat_map.shape
        flat_map = feat_map.reshape(b * t, c, h, w)
        feat_vect = flat_map.mean((2, 3)).reshape(b, t, c)
        embed = self.Embeding(flat_map).reshape(b, t, -1, h, w)
        temporal = self.TRAG(feat_map, flat_map, feat_vect, embed)
        out = self.conv_block(self.SRAG(feat_map, flat_map, embed, feat_vect, temporal))
        return out.reshape(b, -1, c, h, w)


class PSTA(nn.Module):
    """Clip aggregator: returns the three heads' logits, each (b, 2) as [fake, real]."""

    def __init__(self, c=1024, mid=256, num_classes=2):
        super().__init__()
        self.base = ResNetTrunk()  # unused ResNet-50 kept by the authors' checkpoint
        self.down_channel = nn.Sequential(nn.Conv2d(2048, c, 1, bias=False), nn.BatchNorm2d(c),
                                          nn.ReLU(inplace=True))
        # first layer reads (gaze, texture) of each (gaze, texture, attribute) triple
        self.layer1 = STAM(c, mid, stride=3)
        self.layer2 = STAM(c, mid, stride=2)
        self.layer3 = STAM(c, mid, stride=2)
        self.bottleneck = nn.ModuleList(nn.BatchNorm1d(c) for _ in range(3))
        self.classifier = nn.ModuleList(nn.Linear(c, num_classes) for _ in range(3))

    def forward(self, gaze, texture, attribute):
        """Each input: (b*t, 2048, 7, 7), frames of clip k at rows k*t .. k*t+t-1 (t = 4)."""
        n, _, h, w = gaze.shape
        b = n // 4
        maps = [self.down_channel(m).reshape(b, 4, -1, h, w) for m in (gaze, texture, attribute)]
        x = torch.stack(maps, 2).reshape(b, 12, -1, h, w)  # (g0, x0, a0, g1, x1, a1, ...)
        pooled = []
        features = []
        for layer in (self.layer1, self.layer2, self.layer3):
            x = layer(x)
            pooled.append(x.mean(1).mean((2, 3)))
            features.append(torch.stack(pooled, 1).mean(1))  # running mean of the levels
        return [cls(bn(f)) for f, bn, cls in zip(features, self.bottleneck, self.classifier)]


def build_networks():
    """The four networks in eval mode, keyed like checkpoint_keys.json."""
    return {"gam": GAM().eval(), "tam": TAM().eval(), "aam": AAM().eval(), "agg": PSTA().eval()}


class DFGazeClip(nn.Module):
    """Whole graph for one or more 4-frame clips: frames (4b, 3, 224, 224) ->
    (yaw logits, pitch logits, [3 x head logits (b, 2)])."""

    def __init__(self, nets):
        super().__init__()
        self.gam, self.tam, self.aam, self.agg = (nets[k] for k in NETWORKS)

    def forward(self, frames):
        yaw, pitch, gaze = self.gam(frames)
        heads = self.agg(gaze, self.tam(frames), self.aam(frames))
        return yaw, pitch, torch.stack(heads, 1)


# ---------------------------------------------------------------------------
# dfgaze-demo-v1 weights (SPEC.md section 1), numpy uint64 arithmetic wraps mod 2^64.

M64 = (1 << 64) - 1


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001B3) & M64
    return h


def splitmix64(seed, n):
    z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


DAMPED = {"gam": r"^layer\d+\.\d+\.bn3\.weight$", "tam": r"^layer\d+\.\d+\.bn3\.weight$",
          "aam": r"^base\.layer\d+\.\d+\.bn2\.weight$", "agg": r"^layer\d+\.conv_block\.7\.weight$"}


def is_generated(net, key):
    """Keys the forward pass reads; the others are not part of the recipe."""
    unused = {"gam": r"^fc_finetune\.", "tam": r"^fc\.", "aam": r"^base\.fc\.", "agg": r"^base\."}
    return not (key.endswith("num_batches_tracked") or re.match(unused[net], key))


def demo_value(net, key, shape, batchnorm_modules):
    """Float32 array for one key; batchnorm_modules: module names owning a running_mean."""
    z = splitmix64(fnv1a64(f"dfgaze-demo-v1/{net}/{key}"), math.prod(shape))
    f = np.float32
    u = (z >> np.uint64(40)).astype(f) * f(2.0 ** -24)
    v = f(2) * u - f(1)
    module, leaf = key.rsplit(".", 1)
    if module in batchnorm_modules:
        if leaf == "weight":
            g = f(0.25) if re.match(DAMPED[net], key) else f(1)
            out = g * (f(1) + f(0.25) * v)
        elif leaf in ("bias", "running_mean"):
            out = f(0.125) * v
        elif leaf == "running_var":
            out = f(1) + f(0.5) * u
        else:
            raise ValueError(f"unexpected BatchNorm key {net}/{key}")
    elif leaf == "weight" and len(shape) in (3, 4):
        out = v * f(math.sqrt(6 / math.prod(shape[1:])))
    elif leaf == "weight" and len(shape) == 2:
        out = v * f(math.sqrt(3 / shape[1]))
    elif leaf == "bias":
        out = f(0.125) * v
    else:
        raise ValueError(f"no rule for {net}/{key} {shape}")
    return out.astype(f).reshape(shape)


def checkpoint_keys():
    return json.loads((FIXTURE / "checkpoint_keys.json").read_text())


def demo_state_dicts(all_keys=False):
    """{net: {key: tensor}} in checkpoint order. Generated keys follow the recipe; with
    all_keys, the keys it leaves out get the same rule (unused weights) and
    num_batches_tracked gets 0, so the dicts are complete checkpoints."""
    result = {}
    for net, entries in checkpoint_keys().items():
        bn = {k.rsplit(".", 1)[0] for k, _, _ in entries if k.endswith(".running_mean")}
        sd = {}
        for key, shape, dtype in entries:
            if key.endswith("num_batches_tracked"):
                if all_keys:
                    sd[key] = torch.zeros(shape, dtype=torch.int64)
            elif all_keys or is_generated(net, key):
                sd[key] = torch.from_numpy(demo_value(net, key, shape, bn))
        result[net] = sd
    return result


def sha256_f32(t):
    return hashlib.sha256(t.numpy().astype("<f4").tobytes()).hexdigest()


def verify_demo_weights(states):
    """Every generated key's SHA-256 against demo_weights_sha256.json; raises on mismatch."""
    expected = json.loads((FIXTURE / "demo_weights_sha256.json").read_text())
    count = 0
    for net, digests in expected.items():
        generated = {k for k in states[net] if is_generated(net, k)}
        if generated != set(digests):
            raise AssertionError(f"{net}: generated key set differs from demo_weights_sha256.json")
        bad = [k for k, d in digests.items() if sha256_f32(states[net][k]) != d]
        if bad:
            raise AssertionError(f"{net}: {len(bad)} keys differ, first {bad[:3]}")
        count += len(digests)
    return count


def check_state_dict_layout(nets):
    """Our modules' state-dict keys, order, shapes and dtypes equal checkpoint_keys.json."""
    for net, entries in checkpoint_keys().items():
        ours = [[k, list(v.shape), str(v.dtype)] for k, v in nets[net].state_dict().items()]
        if ours != entries:
            i = next((i for i, (a, b) in enumerate(zip(ours, entries)) if a != b), min(len(ours), len(entries)))
            raise AssertionError(f"{net}: state dict differs from checkpoint_keys.json at entry {i}: "
                                 f"ours {ours[i:i + 1]}, checkpoint {entries[i:i + 1]}")


def load_demo_networks():
    """The four networks with the demo weights (layout checked, recipe verified)."""
    with torch.device("meta"):  # skip the random initialisation, every value is replaced
        nets = build_networks()
    check_state_dict_layout(nets)
    states = demo_state_dicts(all_keys=True)
    verify_demo_weights(states)
    for net, module in nets.items():
        module.load_state_dict(states[net], strict=True, assign=True)
    return nets


# ---------------------------------------------------------------------------
# Preprocessing (SPEC.md section 2 = torchvision Resize(256), CenterCrop(224), Normalize).

MEAN = (0.643, 0.466, 0.387)
STD = (0.259, 0.220, 0.203)


def crop_rgb(path):
    """uint8 (224, 224, 3): Pillow bilinear resize of the shorter side to 256, centre crop."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    if w <= h:
        size = (256, int(256 * h / w))
    else:
        size = (int(256 * w / h), 256)
    img = img.resize(size, Image.BILINEAR)
    top, left = int(round((size[1] - 224) / 2)), int(round((size[0] - 224) / 2))
    return np.asarray(img.crop((left, top, left + 224, top + 224)))


def to_input(crops):
    """uint8 (n, 224, 224, 3) crops -> normalized float32 (n, 3, 224, 224)."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std
