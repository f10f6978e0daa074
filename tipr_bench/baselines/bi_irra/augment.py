"""Training-time image augmentation, on uint8 [3, H, W] images already at the model's size.

Two recipes, each drawing every random choice from the item's own `random.Random` (so a run is
reproducible for any number of loader workers or processes):

- "reference", the Bi-IRRA code's (misc/data.py `Choose`): two operations drawn at random, with
  replacement, from colour jitter (0.1 brightness/contrast/saturation), rotation (up to 15 degrees,
  nearest, black fill), random resized crop (scale 0.9-1, aspect 3/4-4/3), grayscale (p 0.1),
  horizontal flip (p 0.5) and random erasing (p 0.5, 10-20% of the area, black), applied to the
  [0, 1] image before normalisation;
- "irra", IRRA's: horizontal flip, pad-and-crop, normalise, random erasing with the mean colour.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch
import torch.nn.functional as F

# Normalisation statistics: ImageNet's (the reference's) and CLIP's (CCLM/X2-VLM pre-training).
STATS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
}
LUMA = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)


def normalize(image: torch.Tensor, kind: str) -> torch.Tensor:
    """uint8 or [0, 1] float image -> normalised float with the named statistics."""
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in STATS[kind])
    x = image.float() / 255.0 if image.dtype == torch.uint8 else image
    return (x - mean) / std


def _gray(x: torch.Tensor) -> torch.Tensor:
    return (x * LUMA).sum(dim=0, keepdim=True)


def colour_jitter(x: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """Brightness, contrast and saturation, each by a factor in [0.9, 1.1], in a random order."""
    steps = [0, 1, 2]
    rng.shuffle(steps)
    for step in steps:
        factor = rng.uniform(0.9, 1.1)
        if step == 0:
            x = x * factor
        elif step == 1:
            x = factor * x + (1 - factor) * _gray(x).mean()
        else:
            x = factor * x + (1 - factor) * _gray(x)
        x = x.clamp(0, 1)
    return x


def rotate(x: torch.Tensor, rng: random.Random, degrees: float = 15.0) -> torch.Tensor:
    """Rotation about the centre by up to `degrees`, nearest neighbour, black outside the image."""
    angle = math.radians(rng.uniform(-degrees, degrees))
    _, h, w = x.shape
    c, s = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[c, s * h / w, 0.0], [-s * w / h, c, 0.0]]).unsqueeze(0)
    grid = F.affine_grid(theta, [1, 3, h, w], align_corners=False)
    return F.grid_sample(x.unsqueeze(0), grid, mode="nearest", padding_mode="zeros", align_corners=False)[0]


def resized_crop(x: torch.Tensor, rng: random.Random, scale: tuple[float, float] = (0.9, 1.0)) -> torch.Tensor:
    """A crop of 90-100% of the area at aspect 3/4-4/3, resized back (bilinear, antialiased)."""
    _, h, w = x.shape
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            top, left = rng.randint(0, h - ch), rng.randint(0, w - cw)
            break
    else:
        top, left, ch, cw = 0, 0, h, w
    crop = x[:, top:top + ch, left:left + cw].unsqueeze(0)
    return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0]


def grayscale(x: torch.Tensor, rng: random.Random) -> torch.Tensor:
    return _gray(x).expand(3, -1, -1).clone() if rng.random() < 0.1 else x


def flip(x: torch.Tensor, rng: random.Random) -> torch.Tensor:
    return x.flip(-1) if rng.random() < 0.5 else x


def erase(x: torch.Tensor, rng: random.Random, scale: tuple[float, float] = (0.1, 0.2), value: float = 0.0
          ) -> torch.Tensor:
    """With p 0.5, one rectangle of `scale` of the area at aspect 0.3-3.3 set to `value`."""
    if rng.random() >= 0.5:
        return x
    _, h, w = x.shape
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
        eh, ew = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if eh < h and ew < w:
            top, left = rng.randint(0, h - eh), rng.randint(0, w - ew)
            x = x.clone()
            x[:, top:top + eh, left:left + ew] = value
            return x
    return x


REFERENCE_OPS: tuple[Callable[[torch.Tensor, random.Random], torch.Tensor], ...] = (
    colour_jitter, rotate, resized_crop, grayscale, flip, erase)


def reference_recipe(image: torch.Tensor, rng: random.Random, stats: str) -> torch.Tensor:
    x = image.float() / 255.0
    for op in (rng.choice(REFERENCE_OPS), rng.choice(REFERENCE_OPS)):
        x = op(x, rng)
    return normalize(x, stats)


def irra_recipe(image: torch.Tensor, rng: random.Random, stats: str) -> torch.Tensor:
    x = flip(image.float() / 255.0, rng)
    _, h, w = x.shape
    pad = max(1, round(min(h, w) * 0.08))
    padded = F.pad(x.unsqueeze(0), (pad, pad, pad, pad), mode="constant").squeeze(0)
    top, left = rng.randint(0, 2 * pad), rng.randint(0, 2 * pad)
    out = normalize(padded[:, top:top + h, left:left + w], stats)
    if rng.random() < 0.5:  # random erasing with the mean colour (0 after normalisation)
        for _ in range(10):
            area = rng.uniform(0.02, 0.4) * h * w
            aspect = rng.uniform(0.3, 3.3)
            eh, ew = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
            if eh < h and ew < w:
                y, x0 = rng.randint(0, h - eh), rng.randint(0, w - ew)
                out[:, y:y + eh, x0:x0 + ew] = 0
                break
    return out


RECIPES = {"reference": reference_recipe, "irra": irra_recipe}
# How each recipe resizes a training image to the model's size (the reference: transforms.Resize's
# default, bilinear); evaluation always resizes bicubic, as both codes do.
TRAIN_RESAMPLE = {"reference": "bilinear", "irra": "bicubic"}
