"""Painting primitives: the background, a garment's fabric (colour, pattern, rim), limbs and masks.

Everything is drawn on the supersampled canvas (pose.CW x pose.CH).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .appearance import COLORS, GROUND_COLORS, RGB, WALL_COLORS, Item, Shot
from .pose import CH, CW, SCALE, Point


def shade(rgb: RGB, factor: float) -> RGB:
    """A darker (or, for very dark colours, lighter) variant for seams and outlines."""
    if sum(rgb) < 150:
        return tuple(min(255, int(c + 55)) for c in rgb)  # type: ignore[return-value]
    return tuple(min(255, int(c * factor)) for c in rgb)  # type: ignore[return-value]


def background(shot: Shot, rng: np.random.Generator) -> Image.Image:
    """Wall and ground with a simple texture, built at output resolution (it needs no anti-aliasing)
    in canvas coordinates, then enlarged to the canvas."""
    ys, xs = np.ogrid[0:CH:SCALE, 0:CW:SCALE]
    rows, cols = CH // SCALE, CW // SCALE
    canvas = np.empty((rows, cols, 3), dtype=np.float32)
    horizon = int(shot.horizon * rows)
    canvas[:horizon] = WALL_COLORS[shot.wall_color]
    canvas[horizon:] = GROUND_COLORS[shot.ground_color]
    wall, ground = slice(0, horizon), slice(horizon, rows)
    if shot.wall == "brick":
        row = 18 + int(rng.integers(8))
        offset = (ys // row) % 2 * (row * 1.5)
        joint = ((ys % row) < 2) | (((xs + offset) % (row * 3)) < 2)
        canvas[wall][joint[wall]] *= 0.78
    elif shot.wall == "windows":
        pitch_x, pitch_y = 70 + int(rng.integers(30)), 90 + int(rng.integers(40))
        ox, oy = int(rng.integers(pitch_x)), int(rng.integers(pitch_y))
        window = (((xs + ox) % pitch_x) < pitch_x * 0.55) & (((ys + oy) % pitch_y) < pitch_y * 0.6)
        canvas[wall][window[wall]] *= 0.55
    elif shot.wall == "trees":
        img = Image.fromarray(canvas[wall].astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(3, 7))):
            x, y, r = rng.uniform(0, cols), rng.uniform(0, horizon), rng.uniform(15, 35)
            tone = (int(rng.integers(60, 100)), int(rng.integers(100, 135)), int(rng.integers(60, 90)))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tone)
        canvas[wall] = np.asarray(img, dtype=np.float32)
    elif shot.wall == "stripes":
        width = 40 + int(rng.integers(40))
        canvas[:horizon, (xs[0] // width) % 2 == 1] *= 0.88
    if shot.ground == "tiles":
        pitch = 36 + int(rng.integers(20))
        lines = ((ys % pitch) < 2) | ((xs % pitch) < 2)
        canvas[ground][lines[ground]] *= 0.8
    elif shot.ground == "road":
        lane_x = int(rng.integers(CW))
        dash = (np.abs(xs - lane_x) < 4) & ((ys // 40) % 2 == 0)
        canvas[ground][dash[ground]] = (205, 205, 200)
    elif shot.ground == "grass":
        canvas[ground] *= rng.uniform(0.85, 1.1, size=(rows - horizon, cols, 1)).astype(np.float32)
    # Soft daylight falloff from top to bottom.
    canvas *= np.linspace(1.06, 0.92, rows, dtype=np.float32)[:, None, None]
    small = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    return small.resize((CW, CH), Image.Resampling.NEAREST)


def _texture(item: Item, box: tuple[int, int, int, int], h: float, rng: np.random.Generator) -> Image.Image:
    """The item's fabric over `box`: its colour plus its pattern in the second colour."""
    x0, y0, x1, y1 = box
    base = np.array(COLORS[item.color], dtype=np.uint8)
    tex = np.empty((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    tex[:] = base
    if item.pattern == "plain" or item.color2 is None:
        return Image.fromarray(tex)
    second = np.array(COLORS[item.color2], dtype=np.uint8)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    if item.pattern == "striped":
        pitch = max(6, int(0.034 * h))
        tex[(ys % pitch) < pitch * 0.4] = second
    elif item.pattern == "plaid":
        pitch = max(10, int(0.06 * h))
        line = max(2, int(pitch * 0.2))
        tex[((ys % pitch) < line) | (((xs + pitch // 3) % pitch) < line)] = second
    elif item.pattern == "checked":
        cell = max(6, int(0.036 * h))
        tex[((ys // cell + xs // cell) % 2) == 1] = second
    elif item.pattern == "dotted":
        pitch = max(8, int(0.045 * h))
        radius = pitch * 0.28
        shift = (ys // pitch) % 2 * (pitch // 2)
        dx = (xs + shift) % pitch - pitch / 2
        dy = ys % pitch - pitch / 2
        tex[dx * dx + dy * dy < radius * radius] = second
    elif item.pattern == "floral":
        img = Image.fromarray(tex)
        draw = ImageDraw.Draw(img)
        pitch = max(10, 0.055 * h)
        petal = pitch * 0.16
        fill = tuple(int(c) for c in second)
        for gy in np.arange(-pitch, y1 - y0 + pitch, pitch):
            for gx in np.arange(-pitch, x1 - x0 + pitch, pitch):
                cx = gx + rng.uniform(-0.2, 0.2) * pitch
                cy = gy + rng.uniform(-0.2, 0.2) * pitch
                for k in range(5):
                    a = k * 2 * math.pi / 5 + rng.uniform(0, 1)
                    px, py = cx + math.cos(a) * petal, cy + math.sin(a) * petal
                    draw.ellipse((px - petal, py - petal, px + petal, py + petal), fill=fill)
        return img
    return Image.fromarray(tex)


def paint(img: Image.Image, mask: Image.Image, item: Item, h: float, rng: np.random.Generator) -> None:
    """Fill `mask` with the item's fabric and a thin darker outline so shapes read clearly."""
    bbox = mask.getbbox()
    if bbox is None:
        return
    tex = _texture(item, bbox, h, rng)
    img.paste(tex, bbox[:2], mask.crop(bbox))
    inside = np.asarray(mask.crop(bbox)) > 0
    core = inside.copy()
    for _ in range(2):  # erode twice: what is left out is a 2-pixel rim
        padded = np.pad(core, 1)
        core = core & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    rim = Image.fromarray(((inside & ~core) * 255).astype(np.uint8))
    img.paste(shade(COLORS[item.color], 0.62), bbox, rim)


def limb(draw: ImageDraw.ImageDraw, p0: Point, p1: Point, w0: float, w1: float, fill) -> None:
    """A tapered capsule from p0 (width w0) to p1 (width w1)."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length
    draw.polygon(
        [
            (p0[0] + nx * w0 / 2, p0[1] + ny * w0 / 2),
            (p1[0] + nx * w1 / 2, p1[1] + ny * w1 / 2),
            (p1[0] - nx * w1 / 2, p1[1] - ny * w1 / 2),
            (p0[0] - nx * w0 / 2, p0[1] - ny * w0 / 2),
        ],
        fill=fill,
    )
    draw.ellipse((p0[0] - w0 / 2, p0[1] - w0 / 2, p0[0] + w0 / 2, p0[1] + w0 / 2), fill=fill)
    draw.ellipse((p1[0] - w1 / 2, p1[1] - w1 / 2, p1[0] + w1 / 2, p1[1] + w1 / 2), fill=fill)


def new_mask() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    mask = Image.new("L", (CW, CH), 0)
    return mask, ImageDraw.Draw(mask)
