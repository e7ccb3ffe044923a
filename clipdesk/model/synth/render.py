"""Rendering a :class:`~clipdesk.model.synth.world.SceneSpec` to a Pillow image.

Shapes are drawn as anti-aliased masks (supersampled for small images) and composited over a
background, so any background pattern shows around them. :func:`register_shape` adds shapes beyond
the training vocabulary (the Train tab teaches the model new ones); :data:`EXTRA_SHAPES` already
holds a few: hexagon, pentagon, octagon, arrow, crescent.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from clipdesk.model.synth.world import COLOURS, SceneSpec

Point = tuple[float, float]
# A shape is a function (draw, cx, cy, r, angle, fill) drawing into an "L" mask; r is the radius
# of the shape's bounding circle in pixels, angle a small rotation in radians.
ShapeDrawer = Callable[[ImageDraw.ImageDraw, float, float, float, float], None]

_SHAPE_DRAWERS: dict[str, ShapeDrawer] = {}


def register_shape(name: str, drawer: ShapeDrawer) -> None:
    """Make ``name`` renderable; ``drawer(draw, cx, cy, r, angle)`` fills it with 255."""
    _SHAPE_DRAWERS[name] = drawer


def shape_names() -> list[str]:
    return sorted(_SHAPE_DRAWERS)


def _rotate(points: list[Point], cx: float, cy: float, r: float, angle: float) -> list[Point]:
    ca, sa = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in points]


def polygon_shape(points: list[Point], rotates: bool = True) -> ShapeDrawer:
    """A drawer for a polygon given in unit coordinates (y down, within the unit circle)."""

    def draw(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float) -> None:
        d.polygon(_rotate(points, cx, cy, r, angle if rotates else 0.0), fill=255)

    return draw


def _regular(n: int, radius: float = 1.0, phase: float = -math.pi / 2) -> list[Point]:
    return [
        (
            radius * math.cos(phase + 2 * math.pi * k / n),
            radius * math.sin(phase + 2 * math.pi * k / n),
        )
        for k in range(n)
    ]


def _star(points: int = 5, inner: float = 0.45) -> list[Point]:
    out: list[Point] = []
    for k in range(2 * points):
        rad = 1.0 if k % 2 == 0 else inner
        a = -math.pi / 2 + math.pi * k / points
        out.append((rad * math.cos(a), rad * math.sin(a)))
    return out


def _heart() -> list[Point]:
    pts = []
    for k in range(48):
        t = 2 * math.pi * k / 48
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        pts.append((x / 17.0, (y + 2.5) / 17.0))
    return pts


def _ellipse(rx: float, ry: float, n: int = 48) -> list[Point]:
    return [
        (rx * math.cos(2 * math.pi * k / n), ry * math.sin(2 * math.pi * k / n)) for k in range(n)
    ]


def _arc(radius: float, start: float, sweep: float, n: int, dy: float = 0.0) -> list[Point]:
    """``n + 1`` points along a circle's arc, both ends included, moved down by ``dy``."""
    return [
        (radius * math.cos(start + sweep * k / n), radius * math.sin(start + sweep * k / n) + dy)
        for k in range(n + 1)
    ]


def _semicircle(n: int = 24) -> list[Point]:
    """The upper half of a disc, moved down so that it sits centred on its spot."""
    return _arc(0.92, math.pi, math.pi, n, dy=0.42)


def _arch(n: int = 20) -> list[Point]:
    """An upside-down U: a half ring on two legs."""
    outer, inner, legs, dy = 0.8, 0.4, 0.55, 0.12
    return [
        (-outer, legs + dy),
        *_arc(outer, math.pi, math.pi, n, dy),
        (outer, legs + dy),
        (inner, legs + dy),
        *_arc(inner, 2 * math.pi, -math.pi, n, dy),
        (-inner, legs + dy),
    ]


def _circle(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float) -> None:
    d.ellipse((cx - r * 0.9, cy - r * 0.9, cx + r * 0.9, cy + r * 0.9), fill=255)


def _ring(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float) -> None:
    d.ellipse((cx - r * 0.92, cy - r * 0.92, cx + r * 0.92, cy + r * 0.92), fill=255)
    hole = r * 0.52
    d.ellipse((cx - hole, cy - hole, cx + hole, cy + hole), fill=0)


def _crescent(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float) -> None:
    d.ellipse((cx - r * 0.9, cy - r * 0.9, cx + r * 0.9, cy + r * 0.9), fill=255)
    ox, oy = cx + r * 0.45 * math.cos(angle), cy + r * 0.45 * math.sin(angle) - r * 0.2
    d.ellipse((ox - r * 0.75, oy - r * 0.75, ox + r * 0.75, oy + r * 0.75), fill=0)


_CROSS_ARM = 0.3
register_shape("circle", _circle)
register_shape("ring", _ring)
register_shape(
    "square", polygon_shape([(-0.68, -0.68), (0.68, -0.68), (0.68, 0.68), (-0.68, 0.68)])
)
register_shape("triangle", polygon_shape([(0.0, -0.95), (0.86, 0.6), (-0.86, 0.6)]))
register_shape("star", polygon_shape(_star()))
register_shape("heart", polygon_shape(_heart()))
register_shape("diamond", polygon_shape([(0.0, -0.98), (0.62, 0.0), (0.0, 0.98), (-0.62, 0.0)]))
register_shape(
    "cross",
    polygon_shape(
        [
            (-_CROSS_ARM, -0.9),
            (_CROSS_ARM, -0.9),
            (_CROSS_ARM, -_CROSS_ARM),
            (0.9, -_CROSS_ARM),
            (0.9, _CROSS_ARM),
            (_CROSS_ARM, _CROSS_ARM),
            (_CROSS_ARM, 0.9),
            (-_CROSS_ARM, 0.9),
            (-_CROSS_ARM, _CROSS_ARM),
            (-0.9, _CROSS_ARM),
            (-0.9, -_CROSS_ARM),
            (-_CROSS_ARM, -_CROSS_ARM),
        ]
    ),
)
register_shape("oval", polygon_shape(_ellipse(0.95, 0.58)))
register_shape("semicircle", polygon_shape(_semicircle()))
register_shape(
    "trapezoid", polygon_shape([(-0.88, 0.45), (0.88, 0.45), (0.42, -0.5), (-0.42, -0.5)])
)
register_shape("arch", polygon_shape(_arch()))
# Shapes outside the training vocabulary, for teaching the model something new.
EXTRA_SHAPES: tuple[str, ...] = ("hexagon", "pentagon", "octagon", "arrow", "crescent")
register_shape("hexagon", polygon_shape(_regular(6, 0.92, 0.0)))
register_shape("pentagon", polygon_shape(_regular(5, 0.92)))
register_shape("octagon", polygon_shape(_regular(8, 0.92, math.pi / 8)))
register_shape(
    "arrow",
    polygon_shape(
        [
            (-0.9, -0.25),
            (0.15, -0.25),
            (0.15, -0.6),
            (0.92, 0.0),
            (0.15, 0.6),
            (0.15, 0.25),
            (-0.9, 0.25),
        ]
    ),
)
register_shape("crescent", _crescent)

# Centres of the named positions, as fractions of width and height.
_POSITION_XY: dict[str, Point] = {
    "centre": (0.5, 0.5),
    "left": (0.27, 0.5),
    "right": (0.73, 0.5),
    "top": (0.5, 0.27),
    "bottom": (0.5, 0.73),
    "top left": (0.27, 0.27),
    "top right": (0.73, 0.27),
    "bottom left": (0.27, 0.73),
    "bottom right": (0.73, 0.73),
}
# Object diameter as a fraction of the shorter image side.
_DIAMETER = {"small": (0.22, 0.28), "large": (0.42, 0.52)}
_DIAMETER_SEVERAL = {"small": (0.19, 0.23), "large": (0.28, 0.33)}


def colour_rgb(name: str) -> tuple[int, int, int]:
    if name == "grey":
        return (128, 128, 128)
    try:
        return COLOURS[name]
    except KeyError:
        raise ValueError(f"unknown colour {name!r}") from None


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    (r0, g0, b0), (r1, g1, b1) = a, b
    return (
        round(r0 * (1 - t) + r1 * t),
        round(g0 * (1 - t) + g1 * t),
        round(b0 * (1 - t) + b1 * t),
    )


def _distance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return math.dist(a, b)


def background_tone(spec: SceneSpec, rng: random.Random) -> tuple[int, int, int]:
    """A pale or dark tint of the background colour, whichever keeps the object visible."""
    base = colour_rgb(spec.bg_colour)
    obj = colour_rgb(spec.colour)
    pale, dark = _mix(base, (255, 255, 255), 0.6), _mix(base, (0, 0, 0), 0.55)
    first, second = (pale, dark) if rng.random() < 0.6 else (dark, pale)
    return (
        first
        if _distance(first, obj) >= 110
        else max((first, second), key=lambda c: _distance(c, obj))
    )


def _background(spec: SceneSpec, w: int, h: int, rng: random.Random) -> Image.Image:
    tone = background_tone(spec, rng)
    r, g, b = tone
    lighter = (min(255, r + 40), min(255, g + 40), min(255, b + 40))
    darker = (max(0, r - 40), max(0, g - 40), max(0, b - 40))
    other = lighter if sum(tone) < 384 else darker
    kind = spec.background
    if kind == "plain":
        return Image.new("RGB", (w, h), tone)
    if kind == "stripes":
        img = Image.new("RGB", (w, h), tone)
        d = ImageDraw.Draw(img)
        period = max(4, round(min(w, h) * rng.uniform(0.08, 0.16)))
        thick = max(2, period // 2)
        vertical, diagonal = rng.random() < 0.5, rng.random() < 0.3
        span = w + h if diagonal else (w if vertical else h)
        for p in range(-h if diagonal else 0, span, period):
            if diagonal:
                d.polygon([(p, 0), (p + thick, 0), (p + thick + h, h), (p + h, h)], fill=other)
            elif vertical:
                d.rectangle((p, 0, p + thick - 1, h), fill=other)
            else:
                d.rectangle((0, p, w, p + thick - 1), fill=other)
        return img
    if kind == "dots":
        img = Image.new("RGB", (w, h), tone)
        d = ImageDraw.Draw(img)
        step = max(5, round(min(w, h) * rng.uniform(0.08, 0.13)))
        dot = max(1.0, step * 0.22)
        ox, oy = rng.uniform(0, step), rng.uniform(0, step)
        for row, y in enumerate(np.arange(oy - step, h + step, step)):
            shift = step / 2 if row % 2 else 0.0
            for x in np.arange(ox - step + shift, w + step, step):
                d.ellipse((x - dot, y - dot, x + dot, y + dot), fill=other)
        return img
    if kind == "gradient":
        second = background_tone(spec.with_(bg_colour=rng.choice(["grey", spec.bg_colour])), rng)
        second = _mix(second, other, 0.6)
        t = np.linspace(0.0, 1.0, h if rng.random() < 0.5 else w, dtype=np.float32)
        line = (
            np.asarray(tone, np.float32)[None] * (1 - t[:, None])
            + np.asarray(second, np.float32)[None] * t[:, None]
        )
        arr = np.broadcast_to(line[:, None, :], (len(t), w if len(t) == h else h, 3))
        if len(t) != h:
            arr = arr.transpose(1, 0, 2)
        return Image.fromarray(np.ascontiguousarray(arr).astype(np.uint8), "RGB")
    if kind == "noise":
        gen = np.random.default_rng(spec.seed)
        noise = gen.normal(0.0, 22.0, size=(h, w, 1)).astype(np.float32)
        arr = np.clip(np.asarray(tone, np.float32)[None, None] + noise, 0, 255)
        return Image.fromarray(arr.astype(np.uint8), "RGB")
    raise ValueError(f"unknown background {kind!r}")


def _placements(
    spec: SceneSpec, w: int, h: int, rng: random.Random
) -> list[tuple[float, float, float]]:
    """(cx, cy, radius) in pixels for each object, non-overlapping."""
    short = min(w, h)
    if spec.count == 1:
        r = short * rng.uniform(*_DIAMETER[spec.size]) / 2
        fx, fy = _POSITION_XY.get(spec.position or "centre", (0.5, 0.5))
        cx = fx * w + rng.uniform(-0.04, 0.04) * w
        cy = fy * h + rng.uniform(-0.04, 0.04) * h
        return [(min(max(cx, r + 1), w - r - 1), min(max(cy, r + 1), h - r - 1), r)]
    out: list[tuple[float, float, float]] = []
    lo, hi = _DIAMETER_SEVERAL[spec.size]
    for attempt in range(400):
        if len(out) == spec.count:
            break
        shrink = 1.0 - 0.25 * (attempt // 100) / 3  # give up some size rather than overlap
        r = short * rng.uniform(lo, hi) / 2 * shrink
        cx, cy = rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1)
        if all(math.dist((cx, cy), (x, y)) > (r + rr) * 1.08 for x, y, rr in out):
            out.append((cx, cy, r))
    return out


def render_scene(spec: SceneSpec, size: int | tuple[int, int] = 224) -> Image.Image:
    """Render ``spec`` as an RGB image of ``size`` (an int for a square, or (width, height))."""
    w, h = (size, size) if isinstance(size, int) else size
    if w < 8 or h < 8:
        raise ValueError(f"image size {w}x{h} is too small to draw a scene")
    drawer = _SHAPE_DRAWERS.get(spec.shape)
    if drawer is None:
        raise ValueError(f"unknown shape {spec.shape!r}; known: {', '.join(shape_names())}")
    rng = random.Random(spec.seed)
    bg = _background(spec, w, h, rng)
    # Supersample small masks for smooth edges; large images are smooth enough as they are.
    ss = 4 if max(w, h) <= 256 else (2 if max(w, h) <= 1024 else 1)
    mask = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(mask)
    for cx, cy, r in _placements(spec, w, h, rng):
        angle = rng.uniform(-0.25, 0.25)
        drawer(draw, cx * ss, cy * ss, r * ss, angle)
    if ss > 1:
        mask = mask.reduce(ss)
    jitter = [rng.randint(-12, 12) for _ in range(3)]
    fill = tuple(
        min(255, max(0, c + j)) for c, j in zip(colour_rgb(spec.colour), jitter, strict=True)
    )
    return Image.composite(Image.new("RGB", (w, h), fill), bg, mask)
