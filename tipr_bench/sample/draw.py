"""Paint a synthetic pedestrian photo (128x384, CUHK-PEDES-style crop) from a Person and a Shot.

Drawn at 2x and box-downsampled for smooth edges, then lightly blurred and noised so no two
photos are pixel-identical. Every garment is painted in its named palette colour, so a model that
reads the pixels can learn what the captions say.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .appearance import COLORS, GROUND_COLORS, HAIR_COLORS, SKIN_TONES, Person, Shot
from .carried import draw_backpack_body, draw_carried, draw_suitcase
from .garments import draw_bottom, draw_scarf_and_belt, draw_shoes, draw_top
from .paint import background, limb, shade
from .pose import HEIGHT, SCALE, WIDTH, Body, pose_body


def _draw_legs_and_arms_skin(img: Image.Image, person: Person, b: Body) -> None:
    draw = ImageDraw.Draw(img)
    skin, h = SKIN_TONES[person.skin], b.h
    for s in (-1, 1):
        limb(draw, b.hip[s], b.knee[s], 0.06 * h, 0.045 * h, skin)
        limb(draw, b.knee[s], b.ankle[s], 0.045 * h, 0.034 * h, skin)
        limb(draw, b.shoulder[s], b.elbow[s], 0.042 * h, 0.036 * h, skin)
        limb(draw, b.elbow[s], b.wrist[s], 0.036 * h, 0.03 * h, skin)


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
        limb(
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
                fill=shade(color, 0.8),
            )
        else:
            draw.ellipse(
                (hx - rx * 1.25, brim_y - 0.008 * h, hx + rx * 1.25, brim_y + 0.014 * h),
                fill=shade(color, 0.8),
            )


def _blur_kernel(sigma: float) -> ImageFilter.Kernel:
    """A 3x3 Gaussian: enough for sigma < 0.7 and several times faster than GaussianBlur."""
    weights = [math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return ImageFilter.Kernel((3, 3), weights, scale=sum(weights))


def render(person: Person, shot: Shot) -> bytes:
    """The PNG bytes of one photo; identical for identical (person, shot)."""
    rng = np.random.default_rng(shot.seed)
    b = pose_body(person, shot)
    img = background(shot, rng)
    draw = ImageDraw.Draw(img)
    feet_y = max(b.ankle[-1][1], b.ankle[1][1]) + 0.026 * b.h
    draw.ellipse(
        (b.x(-0.16), feet_y - 0.012 * b.h, b.x(0.16), feet_y + 0.012 * b.h),
        fill=tuple(int(c * 0.7) for c in GROUND_COLORS[shot.ground_color]),
    )
    draw_backpack_body(img, person, b)
    draw_suitcase(img, person, b)
    _draw_hair_back(img, person, b)
    _draw_legs_and_arms_skin(img, person, b)
    draw_bottom(img, person, b, rng)
    draw_shoes(img, person, b)
    draw_top(img, person, b, rng)
    draw_scarf_and_belt(img, person, b)
    _draw_head(img, person, b)
    _draw_hands(img, person, b)
    draw_carried(img, person, b)
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
