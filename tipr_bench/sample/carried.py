"""What a synthetic person carries: a backpack (its body behind, its straps over the clothes), a suitcase
beside them, and a handbag, shoulder bag or umbrella."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from .appearance import COLORS, Person
from .paint import shade
from .pose import Body, lerp, side_sign


def draw_backpack_body(img: Image.Image, person: Person, b: Body) -> None:
    bag = person.bag
    if bag is None or bag.kind != "backpack":
        return
    draw = ImageDraw.Draw(img)
    shift = -(b.facing or side_sign(person.side)) * 0.045 * b.h
    draw.rounded_rectangle(
        (b.cx + shift - 0.14 * b.h, b.y(0.135), b.cx + shift + 0.14 * b.h, b.y(0.47)),
        radius=0.04 * b.h,
        fill=COLORS[bag.color],
    )


def draw_suitcase(img: Image.Image, person: Person, b: Body) -> None:
    """A rolling suitcase beside the person, behind the legs so it never hides a shoe."""
    bag, h = person.bag, b.h
    if bag is None or bag.kind != "suitcase":
        return
    draw = ImageDraw.Draw(img)
    color, dark = COLORS[bag.color], shade(COLORS[bag.color], 0.65)
    s = side_sign(person.side)
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


def draw_carried(img: Image.Image, person: Person, b: Body) -> None:
    """Straps and everything held in a hand (drawn over the clothes)."""
    bag, h = person.bag, b.h
    if bag is None:
        return
    draw = ImageDraw.Draw(img)
    color, dark = COLORS[bag.color], shade(COLORS[bag.color], 0.65)
    s = side_sign(person.side)
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
        belly = lerp(top, tip, 0.35)
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
