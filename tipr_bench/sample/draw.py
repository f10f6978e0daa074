"""Paint a synthetic pedestrian photo (128x384, CUHK-PEDES-style crop) from a Person and a Shot.

Drawn at 2x and box-downsampled for smooth edges, then lightly blurred and noised so no two
photos are pixel-identical. Every garment is painted in its named palette colour, so a model that
reads the pixels can learn what the captions say.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .appearance import (
    COLORS,
    GROUND_COLORS,
    HAIR_COLORS,
    RGB,
    SKIN_TONES,
    SLEEVES,
    WALL_COLORS,
    Item,
    Person,
    Shot,
)

WIDTH, HEIGHT = 128, 384
SCALE = 2  # supersampling factor
CW, CH = WIDTH * SCALE, HEIGHT * SCALE

Point = tuple[float, float]


def _shade(rgb: RGB, factor: float) -> RGB:
    """A darker (or, for very dark colours, lighter) variant for seams and outlines."""
    if sum(rgb) < 150:
        return tuple(min(255, int(c + 55)) for c in rgb)  # type: ignore[return-value]
    return tuple(min(255, int(c * factor)) for c in rgb)  # type: ignore[return-value]


def _side_sign(side: str) -> int:
    """Image x direction of a body side in a front view: the person's right is on the image's left."""
    return -1 if side == "right" else 1


@dataclass(frozen=True)
class Body:
    """Joint positions (supersampled pixels) of one posed person."""

    h: float
    cx: float
    top: float
    facing: int
    shoulder: dict[int, Point]
    elbow: dict[int, Point]
    wrist: dict[int, Point]
    hip: dict[int, Point]
    knee: dict[int, Point]
    ankle: dict[int, Point]

    def y(self, f: float) -> float:
        return self.top + f * self.h

    def x(self, f: float) -> float:
        return self.cx + f * self.h

    def hand(self, s: int) -> Point:
        ex, ey = self.elbow[s]
        wx, wy = self.wrist[s]
        length = math.hypot(wx - ex, wy - ey) or 1.0
        return wx + (wx - ex) / length * 0.02 * self.h, wy + (wy - ey) / length * 0.02 * self.h


def _walk(p: Point, length: float, degrees: float) -> Point:
    a = math.radians(degrees)
    return p[0] + length * math.sin(a), p[1] + length * math.cos(a)


def pose_body(person: Person, shot: Shot) -> Body:
    """Place the joints; the same function drives drawing and the published sample regions."""
    h = shot.height * CH
    top = shot.feet * CH - h
    cx = shot.center * CW
    held = person.bag.kind if person.bag is not None else None
    bag_s = _side_sign(person.side)
    if held == "suitcase":
        cx = CW / 2 - bag_s * 0.08 * h
    arm = {-1: shot.arm_right, 1: shot.arm_left}
    if held in ("handbag", "suitcase", "umbrella"):
        arm[bag_s] = min(arm[bag_s], 5.0)
    shoulder, elbow, wrist, hip, knee, ankle = {}, {}, {}, {}, {}, {}
    back_leg = shot.facing or 1
    for s in (-1, 1):
        shoulder[s] = (cx + s * 0.103 * h, top + 0.178 * h)
        elbow[s] = _walk(shoulder[s], 0.155 * h, s * arm[s])
        wrist[s] = _walk(elbow[s], 0.145 * h, s * arm[s] * 0.6)
        hip[s] = (cx + s * 0.045 * h, top + 0.53 * h)
        leg = s * shot.stride / 2
        knee[s] = _walk(hip[s], 0.205 * h, leg)
        bend = -s * shot.knee_bend if s == -back_leg else 0.0
        ankle[s] = _walk(knee[s], 0.215 * h, leg + bend)
    return Body(h, cx, top, shot.facing, shoulder, elbow, wrist, hip, knee, ankle)


def sample_regions(person: Person, shot: Shot) -> dict[str, list[int]]:
    """Boxes (x0, y0, x1, y1 in output pixels) that show only one garment, for checking colours.

    They avoid straps, scarves, belts and bags by construction of the drawing below.
    """
    b = pose_body(person, shot)

    def box(x0: float, y0: float, x1: float, y1: float) -> list[int]:
        return [round(x0 / SCALE), round(y0 / SCALE), round(x1 / SCALE), round(y1 / SCALE)]

    h = b.h
    regions = {"top": box(b.x(-0.045), b.y(0.33), b.x(0.045), b.y(0.43))}
    if person.bottom is None or person.bottom.kind == "skirt":
        y0 = 0.565  # below the hem of every top that goes with a skirt or is a dress
        regions["bottom"] = box(b.x(-0.035), b.y(y0 + 0.03), b.x(0.035), b.y(y0 + 0.09))
    else:
        # On the leg away from any carried bag: the shin for long legs (a coat may hide the thigh),
        # the thigh for shorts.
        s = -_side_sign(person.side)
        if person.bottom.kind == "shorts":
            mx, my = _lerp(b.hip[s], b.knee[s], 0.3)
        else:
            mx, my = _lerp(b.knee[s], b.ankle[s], 0.45)
        regions["bottom"] = box(mx - 0.014 * h, my - 0.02 * h, mx + 0.014 * h, my + 0.02 * h)
    for s, name in ((-1, "right_shoe"), (1, "left_shoe")):
        ax, ay = b.ankle[s]
        dx = b.facing * 0.012 * h
        regions[name] = box(ax + dx - 0.022 * h, ay + 0.004 * h, ax + dx + 0.022 * h, ay + 0.022 * h)
    return regions


# ---------------------------------------------------------------- background


def _background(shot: Shot, rng: np.random.Generator) -> Image.Image:
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


# ---------------------------------------------------------------- fabric


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


def _paint(img: Image.Image, mask: Image.Image, item: Item, h: float, rng: np.random.Generator) -> None:
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
    img.paste(_shade(COLORS[item.color], 0.62), bbox, rim)


def _limb(draw: ImageDraw.ImageDraw, p0: Point, p1: Point, w0: float, w1: float, fill) -> None:
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


def _lerp(a: Point, b: Point, t: float) -> Point:
    return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


def _new_mask() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    mask = Image.new("L", (CW, CH), 0)
    return mask, ImageDraw.Draw(mask)


# ---------------------------------------------------------------- person parts


def _draw_top(img: Image.Image, person: Person, b: Body, rng: np.random.Generator) -> None:
    top, h = person.top, b.h
    mask, m = _new_mask()
    kind = top.kind
    shoulder_w = 0.075 if kind == "tank top" else 0.108
    hem = {"coat": 0.76, "dress": 0.5}.get(kind, 0.555)
    flare = {"coat": 0.115}.get(kind, 0.088)
    m.polygon(
        [
            (b.x(-0.034), b.y(0.148)),
            (b.x(-shoulder_w), b.y(0.172)),
            (b.x(-0.092), b.y(0.27)),
            (b.x(-0.08), b.y(0.45)),
            (b.x(-flare), b.y(hem)),
            (b.x(flare), b.y(hem)),
            (b.x(0.08), b.y(0.45)),
            (b.x(0.092), b.y(0.27)),
            (b.x(shoulder_w), b.y(0.172)),
            (b.x(0.034), b.y(0.148)),
        ],
        fill=255,
    )
    if kind == "dress":
        m.polygon(
            [
                (b.x(-0.08), b.y(0.44)),
                (b.x(-0.14), b.y(0.72)),
                (b.x(0.14), b.y(0.72)),
                (b.x(0.08), b.y(0.44)),
            ],
            fill=255,
        )
    if kind == "hoodie":
        m.ellipse((b.x(-0.062), b.y(0.118), b.x(0.062), b.y(0.2)), fill=255)
    sleeves = SLEEVES[kind]
    for s in (-1, 1):
        if sleeves == "long":
            _limb(m, b.shoulder[s], b.elbow[s], 0.058 * h, 0.05 * h, 255)
            _limb(m, b.elbow[s], b.wrist[s], 0.05 * h, 0.045 * h, 255)
        elif sleeves == "short":
            _limb(m, b.shoulder[s], _lerp(b.shoulder[s], b.elbow[s], 0.55), 0.062 * h, 0.058 * h, 255)
    _paint(img, mask, top, h, rng)

    draw = ImageDraw.Draw(img)
    dark = _shade(COLORS[top.color], 0.62)
    line = max(1, int(0.006 * h))
    if kind in ("shirt", "coat", "jacket"):
        for s in (-1, 1):  # collar
            draw.polygon(
                [(b.x(s * 0.034), b.y(0.146)), (b.x(s * 0.005), b.y(0.2)), (b.x(s * 0.05), b.y(0.185))],
                fill=COLORS[top.color],
                outline=dark,
            )
    if kind == "shirt":
        for k in range(5):
            y = b.y(0.22 + k * 0.065)
            draw.ellipse((b.cx - line, y - line, b.cx + line, y + line), fill=dark)
    elif kind == "jacket":
        draw.line([(b.cx, b.y(0.2)), (b.cx, b.y(hem))], fill=dark, width=line)
    elif kind == "coat":
        for k in range(4):
            y = b.y(0.25 + k * 0.11)
            for s in (-1, 1):
                x = b.x(s * 0.028)
                draw.ellipse((x - 1.5 * line, y - 1.5 * line, x + 1.5 * line, y + 1.5 * line), fill=dark)
    elif kind == "hoodie":
        draw.line([(b.x(-0.02), b.y(0.18)), (b.x(-0.022), b.y(0.27))], fill=dark, width=line)
        draw.line([(b.x(0.02), b.y(0.18)), (b.x(0.022), b.y(0.27))], fill=dark, width=line)
        draw.polygon(
            [
                (b.x(-0.06), b.y(0.555)),
                (b.x(-0.045), b.y(0.45)),
                (b.x(0.045), b.y(0.45)),
                (b.x(0.06), b.y(0.555)),
            ],
            outline=dark,
            width=line,
        )
    elif kind == "sweater":
        for k in range(3):
            y = b.y(0.52 + k * 0.012)
            draw.line([(b.x(-0.087), y), (b.x(0.087), y)], fill=dark, width=max(1, line // 2))


def _draw_bottom(img: Image.Image, person: Person, b: Body, rng: np.random.Generator) -> None:
    bottom, h = person.bottom, b.h
    if bottom is None:
        return
    mask, m = _new_mask()
    if bottom.kind == "skirt":
        hem, width = (0.68, 0.13) if bottom.length == "short" else (0.88, 0.15)
        m.polygon(
            [
                (b.x(-0.082), b.y(0.45)),
                (b.x(-width), b.y(hem)),
                (b.x(width), b.y(hem)),
                (b.x(0.082), b.y(0.45)),
            ],
            fill=255,
        )
        _paint(img, mask, bottom, h, rng)
        return
    m.polygon(
        [
            (b.x(-0.082), b.y(0.45)),
            (b.x(-0.09), b.y(0.56)),
            (b.cx, b.y(0.6)),
            (b.x(0.09), b.y(0.56)),
            (b.x(0.082), b.y(0.45)),
        ],
        fill=255,
    )
    for s in (-1, 1):
        if bottom.kind == "shorts":
            _limb(m, b.hip[s], _lerp(b.hip[s], b.knee[s], 0.62), 0.085 * h, 0.072 * h, 255)
        else:
            _limb(m, b.hip[s], b.knee[s], 0.085 * h, 0.062 * h, 255)
            _limb(m, b.knee[s], b.ankle[s], 0.062 * h, 0.054 * h, 255)
    _paint(img, mask, bottom, h, rng)
    if bottom.kind == "jeans":
        draw = ImageDraw.Draw(img)
        seam = _shade(COLORS[bottom.color], 0.7)
        for s in (-1, 1):
            out = (s * 0.03 * h, 0)
            p0 = (b.hip[s][0] + out[0], b.hip[s][1])
            draw.line(
                [
                    p0,
                    (b.knee[s][0] + s * 0.026 * h, b.knee[s][1]),
                    (b.ankle[s][0] + s * 0.022 * h, b.ankle[s][1]),
                ],
                fill=seam,
                width=max(1, int(0.004 * h)),
            )


def _draw_shoes(img: Image.Image, person: Person, b: Body) -> None:
    shoes, h = person.shoes, b.h
    color = COLORS[shoes.color]
    dark = _shade(color, 0.6)
    draw = ImageDraw.Draw(img)
    skin = SKIN_TONES[person.skin]
    for s in (-1, 1):
        ax, ay = b.ankle[s]
        fx = ax + b.facing * 0.012 * h
        half = 0.03 * h if b.facing else 0.024 * h
        sole = ay + 0.026 * h
        if shoes.kind == "boots":
            draw.rectangle((ax - 0.027 * h, ay - 0.07 * h, ax + 0.027 * h, sole - 0.01 * h), fill=color)
        if shoes.kind == "sandals":
            draw.ellipse((fx - half, ay - 0.004 * h, fx + half, sole), fill=skin)
            for t in (0.3, 0.65):
                y = ay + t * 0.026 * h
                draw.rectangle((fx - half, y - 0.005 * h, fx + half, y + 0.005 * h), fill=color)
            draw.rectangle((fx - half, sole - 0.008 * h, fx + half, sole), fill=color)
            continue
        if shoes.kind == "heels":
            draw.polygon(
                [
                    (fx - half, ay + 0.004 * h),
                    (fx + half, ay + 0.012 * h),
                    (fx + half, sole - 0.004 * h),
                    (fx - half, sole - 0.004 * h),
                ],
                fill=color,
            )
            hx = fx - b.facing * half * 0.8
            draw.rectangle((hx - 0.004 * h, sole - 0.006 * h, hx + 0.004 * h, sole + 0.006 * h), fill=dark)
            continue
        draw.rounded_rectangle((fx - half, ay, fx + half, sole), radius=0.012 * h, fill=color)
        if shoes.kind == "sneakers":
            draw.rectangle((fx - half, sole - 0.005 * h, fx + half, sole), fill=dark)
        elif shoes.kind == "leather shoes":
            draw.ellipse(
                (fx - half * 0.4, ay + 0.006 * h, fx + half * 0.1, ay + 0.012 * h), fill=_shade(color, 1.3)
            )


def _draw_legs_and_arms_skin(img: Image.Image, person: Person, b: Body) -> None:
    draw = ImageDraw.Draw(img)
    skin, h = SKIN_TONES[person.skin], b.h
    for s in (-1, 1):
        _limb(draw, b.hip[s], b.knee[s], 0.06 * h, 0.045 * h, skin)
        _limb(draw, b.knee[s], b.ankle[s], 0.045 * h, 0.034 * h, skin)
        _limb(draw, b.shoulder[s], b.elbow[s], 0.042 * h, 0.036 * h, skin)
        _limb(draw, b.elbow[s], b.wrist[s], 0.036 * h, 0.03 * h, skin)


def _draw_hands(img: Image.Image, person: Person, b: Body) -> None:
    draw = ImageDraw.Draw(img)
    skin, r = SKIN_TONES[person.skin], 0.021 * b.h
    for s in (-1, 1):
        x, y = b.hand(s)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=skin)


def _head_center(b: Body) -> tuple[float, float, float, float]:
    return b.cx + b.facing * 0.008 * b.h, b.y(0.068), 0.046 * b.h, 0.062 * b.h


def _draw_hair_back(img: Image.Image, person: Person, b: Body) -> None:
    draw = ImageDraw.Draw(img)
    hair = HAIR_COLORS[person.hair_color]
    hx, hy, rx, ry = _head_center(b)
    if person.hair_style == "long":
        draw.rounded_rectangle((hx - rx * 1.3, hy - ry * 0.6, hx + rx * 1.3, b.y(0.3)), radius=rx, fill=hair)
    elif person.hair_style == "ponytail":
        s = -(b.facing or 1)
        px = hx + s * rx * 1.05
        _limb(
            draw, (px, hy - ry * 0.2), (px + s * 0.012 * b.h, hy + ry * 1.9), 0.034 * b.h, 0.018 * b.h, hair
        )
    elif person.hair_style == "bun":
        r = 0.026 * b.h
        draw.ellipse((hx - r, hy - ry - r * 1.5, hx + r, hy - ry + r * 0.5), fill=hair)


def _draw_head(img: Image.Image, person: Person, b: Body) -> None:
    draw = ImageDraw.Draw(img)
    skin, h = SKIN_TONES[person.skin], b.h
    hx, hy, rx, ry = _head_center(b)
    draw.rectangle((b.x(-0.018), b.y(0.11), b.x(0.018), b.y(0.165)), fill=skin)
    draw.ellipse((hx - rx, hy - ry, hx + rx, hy + ry), fill=skin)
    if person.hair_style != "bald":
        hair = HAIR_COLORS[person.hair_color]
        grow = 0.006 * h
        draw.chord((hx - rx - grow, hy - ry - grow, hx + rx + grow, hy + ry * 0.9), 165, 375, fill=hair)
        if person.hair_style == "long":
            for s in (-1, 1):
                draw.rectangle(
                    (
                        hx + s * rx * 0.93 - 0.009 * h,
                        hy - ry * 0.2,
                        hx + s * rx * 0.93 + 0.009 * h,
                        hy + ry * 1.05,
                    ),
                    fill=hair,
                )
    eye_y, eye_r = hy + 0.008 * h, 0.005 * h
    face_x = hx + b.facing * 0.012 * h
    for s in (-1, 1):
        ex = face_x + s * 0.017 * h
        draw.ellipse((ex - eye_r, eye_y - eye_r, ex + eye_r, eye_y + eye_r), fill=(40, 30, 28))
    draw.line(
        [(face_x - 0.01 * h, hy + 0.036 * h), (face_x + 0.01 * h, hy + 0.036 * h)],
        fill=(150, 70, 70),
        width=max(1, int(0.004 * h)),
    )
    glasses = person.accessory("glasses")
    if glasses is not None:
        frame, half = COLORS[glasses.color], 0.013 * h
        for s in (-1, 1):
            ex = face_x + s * 0.018 * h
            draw.rectangle(
                (ex - half, eye_y - half * 0.8, ex + half, eye_y + half * 0.8),
                outline=frame,
                width=max(2, int(0.005 * h)),
            )
        draw.line(
            [(face_x - 0.006 * h, eye_y), (face_x + 0.006 * h, eye_y)],
            fill=frame,
            width=max(2, int(0.004 * h)),
        )
    cap = person.accessory("cap")
    if cap is not None:
        color = COLORS[cap.color]
        grow = 0.01 * h
        draw.chord((hx - rx - grow, hy - ry - grow, hx + rx + grow, hy + ry * 0.5), 180, 360, fill=color)
        brim_y = hy - ry * 0.2
        if b.facing:
            f = b.facing
            draw.polygon(
                [
                    (hx - f * rx, brim_y - 0.01 * h),
                    (hx + f * (rx + 0.04 * h), brim_y),
                    (hx + f * (rx + 0.035 * h), brim_y + 0.012 * h),
                    (hx - f * rx, brim_y + 0.006 * h),
                ],
                fill=_shade(color, 0.8),
            )
        else:
            draw.ellipse(
                (hx - rx * 1.25, brim_y - 0.008 * h, hx + rx * 1.25, brim_y + 0.014 * h),
                fill=_shade(color, 0.8),
            )


def _draw_scarf_and_belt(img: Image.Image, person: Person, b: Body) -> None:
    draw = ImageDraw.Draw(img)
    scarf = person.accessory("scarf")
    if scarf is not None:
        color = COLORS[scarf.color]
        draw.rounded_rectangle(
            (b.x(-0.058), b.y(0.138), b.x(0.058), b.y(0.19)), radius=0.02 * b.h, fill=color
        )
        tail = 1 if b.facing <= 0 else -1
        x0, x1 = sorted((b.x(tail * 0.012), b.x(tail * 0.044)))
        draw.rectangle((x0, b.y(0.17), x1, b.y(0.3)), fill=color)
        draw.rectangle((x0, b.y(0.29), x1, b.y(0.3)), fill=_shade(color, 0.7))
    belt = person.accessory("belt")
    if belt is not None:
        color = COLORS[belt.color]
        draw.rectangle((b.x(-0.083), b.y(0.452), b.x(0.083), b.y(0.478)), fill=color)
        draw.rectangle(
            (b.x(-0.014), b.y(0.449), b.x(0.014), b.y(0.481)),
            outline=(150, 150, 150),
            width=max(1, int(0.004 * b.h)),
        )


def _draw_backpack_body(img: Image.Image, person: Person, b: Body) -> None:
    bag = person.bag
    if bag is None or bag.kind != "backpack":
        return
    draw = ImageDraw.Draw(img)
    shift = -(b.facing or _side_sign(person.side)) * 0.045 * b.h
    draw.rounded_rectangle(
        (b.cx + shift - 0.14 * b.h, b.y(0.135), b.cx + shift + 0.14 * b.h, b.y(0.47)),
        radius=0.04 * b.h,
        fill=COLORS[bag.color],
    )


def _draw_suitcase(img: Image.Image, person: Person, b: Body) -> None:
    """A rolling suitcase beside the person, behind the legs so it never hides a shoe."""
    bag, h = person.bag, b.h
    if bag is None or bag.kind != "suitcase":
        return
    draw = ImageDraw.Draw(img)
    color, dark = COLORS[bag.color], _shade(COLORS[bag.color], 0.65)
    s = _side_sign(person.side)
    hx, hy = b.hand(s)
    sx = hx + s * 0.075 * h
    body_top, body_bottom = b.y(0.7), b.y(0.965)
    draw.line([(hx, hy), (sx, body_top)], fill=(70, 70, 74), width=max(2, int(0.008 * h)))
    draw.rounded_rectangle(
        (sx - 0.07 * h, body_top, sx + 0.07 * h, body_bottom),
        radius=0.012 * h,
        fill=color,
        outline=dark,
        width=max(1, int(0.004 * h)),
    )
    for t in (-0.045, 0.045):
        draw.line(
            [(sx + t * h, body_top + 0.01 * h), (sx + t * h, body_bottom - 0.01 * h)],
            fill=dark,
            width=max(1, int(0.004 * h)),
        )
        r = 0.01 * h
        draw.ellipse(
            (sx + t * h - r, body_bottom - r * 0.2, sx + t * h + r, body_bottom + r * 1.8),
            fill=(30, 30, 30),
        )


def _draw_carried(img: Image.Image, person: Person, b: Body) -> None:
    """Straps and everything held in a hand (drawn over the clothes)."""
    bag, h = person.bag, b.h
    if bag is None:
        return
    draw = ImageDraw.Draw(img)
    color, dark = COLORS[bag.color], _shade(COLORS[bag.color], 0.65)
    s = _side_sign(person.side)
    strap = max(2, int(0.018 * h))
    hx, hy = b.hand(s)
    if bag.kind == "backpack":
        for t in (-1, 1):
            draw.line([(b.x(t * 0.07), b.y(0.16)), (b.x(t * 0.074), b.y(0.41))], fill=color, width=strap)
    elif bag.kind == "shoulder bag":
        draw.line(
            [(b.x(s * 0.078), b.y(0.16)), (b.x(s * 0.1), b.y(0.45))], fill=dark, width=max(2, strap // 2)
        )
        draw.rounded_rectangle(
            (b.x(s * 0.115) - 0.05 * h, b.y(0.44), b.x(s * 0.115) + 0.05 * h, b.y(0.545)),
            radius=0.01 * h,
            fill=color,
            outline=dark,
            width=max(1, int(0.004 * h)),
        )
    elif bag.kind == "handbag":
        draw.arc(
            (hx - 0.025 * h, hy - 0.015 * h, hx + 0.025 * h, hy + 0.04 * h),
            180,
            360,
            fill=dark,
            width=max(2, int(0.007 * h)),
        )
        draw.polygon(
            [
                (hx - 0.035 * h, hy + 0.015 * h),
                (hx + 0.035 * h, hy + 0.015 * h),
                (hx + 0.045 * h, hy + 0.1 * h),
                (hx - 0.045 * h, hy + 0.1 * h),
            ],
            fill=color,
            outline=dark,
        )
    elif bag.kind == "umbrella":
        tip = (hx + s * 0.06 * h, b.y(0.97))
        draw.arc(
            (hx - 0.02 * h, hy - 0.03 * h, hx + 0.02 * h, hy + 0.01 * h),
            180,
            360,
            fill=(60, 45, 35),
            width=max(2, int(0.008 * h)),
        )
        top = (hx + s * 0.01 * h, hy + 0.05 * h)
        belly = _lerp(top, tip, 0.35)
        dx, dy = tip[0] - top[0], tip[1] - top[1]
        length = math.hypot(dx, dy)
        nx, ny = -dy / length, dx / length
        w = 0.032 * h
        draw.polygon(
            [top, (belly[0] + nx * w, belly[1] + ny * w), tip, (belly[0] - nx * w, belly[1] - ny * w)],
            fill=color,
            outline=dark,
        )
        draw.line([(hx, hy), top], fill=(60, 45, 35), width=max(2, int(0.008 * h)))


def _blur_kernel(sigma: float) -> ImageFilter.Kernel:
    """A 3x3 Gaussian: enough for sigma < 0.7 and several times faster than GaussianBlur."""
    weights = [math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return ImageFilter.Kernel((3, 3), weights, scale=sum(weights))


def render(person: Person, shot: Shot) -> bytes:
    """The PNG bytes of one photo; identical for identical (person, shot)."""
    rng = np.random.default_rng(shot.seed)
    b = pose_body(person, shot)
    img = _background(shot, rng)
    draw = ImageDraw.Draw(img)
    feet_y = max(b.ankle[-1][1], b.ankle[1][1]) + 0.026 * b.h
    draw.ellipse(
        (b.x(-0.16), feet_y - 0.012 * b.h, b.x(0.16), feet_y + 0.012 * b.h),
        fill=tuple(int(c * 0.7) for c in GROUND_COLORS[shot.ground_color]),
    )
    _draw_backpack_body(img, person, b)
    _draw_suitcase(img, person, b)
    _draw_hair_back(img, person, b)
    _draw_legs_and_arms_skin(img, person, b)
    _draw_bottom(img, person, b, rng)
    _draw_shoes(img, person, b)
    _draw_top(img, person, b, rng)
    _draw_scarf_and_belt(img, person, b)
    _draw_head(img, person, b)
    _draw_hands(img, person, b)
    _draw_carried(img, person, b)
    if person.bag is not None and person.bag.kind in ("handbag", "umbrella"):
        _draw_hands(img, person, b)  # the hand closes over the handle

    img = img.reduce(SCALE)
    if shot.blur > 0.05:
        img = img.filter(_blur_kernel(shot.blur))
    pixels = np.asarray(img, dtype=np.float32) * shot.brightness
    # Grainy luminance noise at half resolution: photos differ pixel by pixel, yet PNGs stay small.
    grain = rng.normal(0.0, shot.noise, size=(HEIGHT // 2, WIDTH // 2)).astype(np.float32)
    pixels += np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)[:, :, None]
    out = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", compress_level=3)  # 2x faster than 6 for ~8% more bytes
    return buffer.getvalue()
