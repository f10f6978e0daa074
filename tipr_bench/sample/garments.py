"""The clothes a synthetic person wears, each painted in its palette colour: top, bottom, shoes, scarf and belt."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .appearance import COLORS, SKIN_TONES, SLEEVES, Item, Person
from .paint import limb, new_mask, paint, shade
from .pose import Body, lerp


def draw_top(img: Image.Image, person: Person, b: Body, rng: np.random.Generator) -> None:
    top, h = person.top, b.h
    mask, m = new_mask()
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
            limb(m, b.shoulder[s], b.elbow[s], 0.058 * h, 0.05 * h, 255)
            limb(m, b.elbow[s], b.wrist[s], 0.05 * h, 0.045 * h, 255)
        elif sleeves == "short":
            limb(m, b.shoulder[s], lerp(b.shoulder[s], b.elbow[s], 0.55), 0.062 * h, 0.058 * h, 255)
    paint(img, mask, top, h, rng)
    _draw_top_details(img, top, b, hem)


def _draw_top_details(img: Image.Image, top: Item, b: Body, hem: float) -> None:
    """Collar, buttons, zip, pocket or ribbing over the painted top."""
    kind, h = top.kind, b.h
    draw = ImageDraw.Draw(img)
    dark = shade(COLORS[top.color], 0.62)
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


def draw_bottom(img: Image.Image, person: Person, b: Body, rng: np.random.Generator) -> None:
    bottom, h = person.bottom, b.h
    if bottom is None:
        return
    mask, m = new_mask()
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
        paint(img, mask, bottom, h, rng)
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
            limb(m, b.hip[s], lerp(b.hip[s], b.knee[s], 0.62), 0.085 * h, 0.072 * h, 255)
        else:
            limb(m, b.hip[s], b.knee[s], 0.085 * h, 0.062 * h, 255)
            limb(m, b.knee[s], b.ankle[s], 0.062 * h, 0.054 * h, 255)
    paint(img, mask, bottom, h, rng)
    if bottom.kind == "jeans":
        draw = ImageDraw.Draw(img)
        seam = shade(COLORS[bottom.color], 0.7)
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


def draw_shoes(img: Image.Image, person: Person, b: Body) -> None:
    shoes, h = person.shoes, b.h
    color = COLORS[shoes.color]
    dark = shade(color, 0.6)
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
                (fx - half * 0.4, ay + 0.006 * h, fx + half * 0.1, ay + 0.012 * h), fill=shade(color, 1.3)
            )


def draw_scarf_and_belt(img: Image.Image, person: Person, b: Body) -> None:
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
        draw.rectangle((x0, b.y(0.29), x1, b.y(0.3)), fill=shade(color, 0.7))
    belt = person.accessory("belt")
    if belt is not None:
        color = COLORS[belt.color]
        draw.rectangle((b.x(-0.083), b.y(0.452), b.x(0.083), b.y(0.478)), fill=color)
        draw.rectangle(
            (b.x(-0.014), b.y(0.449), b.x(0.014), b.y(0.481)),
            outline=(150, 150, 150),
            width=max(1, int(0.004 * b.h)),
        )
