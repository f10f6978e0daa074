"""Where a synthetic person's joints are in one photo, and the boxes that show only one garment.

Canvas coordinates are supersampled pixels (SCALE x the output photo); sample_regions answers in output pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .appearance import Person, Shot

WIDTH, HEIGHT = 128, 384
SCALE = 2  # supersampling factor
CW, CH = WIDTH * SCALE, HEIGHT * SCALE

Point = tuple[float, float]



def side_sign(side: str) -> int:
    """Image x direction of a body side in a front view: the person's right is on the image's left."""
    return -1 if side == "right" else 1


def lerp(a: Point, b: Point, t: float) -> Point:
    return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


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
    bag_s = side_sign(person.side)
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

    They avoid straps, scarves, belts and bags by construction of the drawing (garments.py, carried.py).
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
        s = -side_sign(person.side)
        if person.bottom.kind == "shorts":
            mx, my = lerp(b.hip[s], b.knee[s], 0.3)
        else:
            mx, my = lerp(b.knee[s], b.ankle[s], 0.45)
        regions["bottom"] = box(mx - 0.014 * h, my - 0.02 * h, mx + 0.014 * h, my + 0.02 * h)
    for s, name in ((-1, "right_shoe"), (1, "left_shoe")):
        ax, ay = b.ankle[s]
        dx = b.facing * 0.012 * h
        regions[name] = box(ax + dx - 0.022 * h, ay + 0.004 * h, ax + dx + 0.022 * h, ay + 0.022 * h)
    return regions
