"""Procedural drawings for the synthetic data set: subjects, backgrounds, styles, scenes."""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SEED = 20240601
SIZE = 256
SS = 2  # supersampling factor: draw at 2x, downsample for smooth edges

Draw = ImageDraw.ImageDraw
RGB = tuple[int, int, int]


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def _color(rng: np.random.Generator, lo: int = 30, hi: int = 230) -> RGB:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))  # type: ignore[return-value]


def _shade(c: RGB, f: float) -> RGB:
    return tuple(int(max(0, min(255, v * f))) for v in c)  # type: ignore[return-value]


def _gradient(w: int, h: int, top: RGB, bottom: RGB) -> Image.Image:
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    arr = (1 - t) * np.array(top) + t * np.array(bottom)
    return Image.fromarray(np.broadcast_to(arr, (h, w, 3)).astype(np.uint8))


def _value_noise(rng: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1]: a coarse random grid upsampled bicubically."""
    grid = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
    return np.asarray(grid.resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0


# --------------------------------------------------------------------------- subjects
def _ball(d: Draw, c: RGB, s: int) -> None:
    d.ellipse((s * .2, s * .2, s * .8, s * .8), fill=c, outline=_shade(c, .5), width=s // 80)
    d.chord((s * .2, s * .42, s * .8, s * .58), 0, 360, fill=(245, 245, 245))
    d.ellipse((s * .32, s * .28, s * .42, s * .36), fill=_shade(c, 1.6))


def _cube(d: Draw, c: RGB, s: int) -> None:
    a, b, m, t = s * .22, s * .78, s * .5, s * .16
    d.polygon([(a, s * .38), (m, s * .38 - t), (b, s * .38), (m, s * .38 + t)], fill=_shade(c, 1.35))
    d.polygon([(a, s * .38), (m, s * .38 + t), (m, s * .82), (a, s * .66)], fill=c)
    d.polygon([(b, s * .38), (m, s * .38 + t), (m, s * .82), (b, s * .66)], fill=_shade(c, .6))


def _duck(d: Draw, c: RGB, s: int) -> None:
    d.ellipse((s * .2, s * .45, s * .75, s * .8), fill=c)
    d.ellipse((s * .5, s * .22, s * .76, s * .5), fill=c)
    d.polygon([(s * .74, s * .34), (s * .88, s * .38), (s * .74, s * .42)], fill=(240, 120, 20))
    d.ellipse((s * .62, s * .3, s * .67, s * .35), fill=(10, 10, 10))
    d.chord((s * .3, s * .5, s * .6, s * .7), 0, 180, fill=_shade(c, .8))


def _robot(d: Draw, c: RGB, s: int) -> None:
    d.rectangle((s * .3, s * .42, s * .7, s * .8), fill=c, outline=_shade(c, .5), width=s // 100)
    d.rectangle((s * .36, s * .2, s * .64, s * .4), fill=_shade(c, 1.2))
    d.line((s * .5, s * .2, s * .5, s * .1), fill=_shade(c, .5), width=s // 60)
    d.ellipse((s * .47, s * .07, s * .53, s * .13), fill=(230, 40, 40))
    for x in (.42, .53):
        d.ellipse((s * x, s * .26, s * (x + .05), s * .31), fill=(40, 220, 255))
    d.rectangle((s * .4, s * .5, s * .6, s * .62), fill=(250, 200, 40))
    for x in (.33, .57):
        d.rectangle((s * x, s * .8, s * (x + .1), s * .9), fill=_shade(c, .6))


def _vase(d: Draw, c: RGB, s: int) -> None:
    pts = [(.42, .15), (.58, .15), (.56, .28), (.72, .5), (.66, .82), (.34, .82), (.28, .5), (.44, .28)]
    d.polygon([(x * s, y * s) for x, y in pts], fill=c, outline=_shade(c, .5), width=s // 100)
    for y in (.45, .55, .65):
        d.line((s * .31, s * y, s * .69, s * y), fill=(250, 250, 240), width=s // 45)


def _cat(d: Draw, c: RGB, s: int) -> None:
    d.ellipse((s * .22, s * .5, s * .72, s * .85), fill=c)
    d.line((s * .7, s * .78, s * .85, s * .55), fill=c, width=s // 25)
    d.ellipse((s * .45, s * .25, s * .78, s * .55), fill=c)
    d.polygon([(s * .47, s * .34), (s * .5, s * .16), (s * .58, s * .27)], fill=c)
    d.polygon([(s * .76, s * .34), (s * .73, s * .16), (s * .65, s * .27)], fill=c)
    for x in (.54, .65):
        d.ellipse((s * x, s * .35, s * (x + .05), s * .41), fill=(60, 160, 60))
    d.polygon([(s * .6, s * .44), (s * .63, s * .44), (s * .615, s * .47)], fill=(230, 120, 140))


SUBJECTS: list[tuple[str, str, Callable[[Draw, RGB, int], None], RGB, int]] = [
    ("red_ball", "ball", _ball, (210, 40, 40), 4),
    ("blue_cube", "cube", _cube, (40, 90, 210), 4),
    ("duck_toy", "toy", _duck, (250, 210, 40), 5),
    ("robot_toy", "toy", _robot, (150, 160, 175), 4),
    ("striped_vase", "vase", _vase, (30, 150, 140), 5),
    ("ginger_cat", "cat", _cat, (230, 140, 50), 4),
]


def _background(rng: np.random.Generator, kind: int, s: int) -> Image.Image:
    if kind == 0:  # wall and wooden floor
        img = _gradient(s, s, _color(rng, 150, 240), _color(rng, 120, 200))
        d = ImageDraw.Draw(img)
        floor = _color(rng, 90, 170)
        d.rectangle((0, s * .62, s, s), fill=floor)
        for i in range(8):
            y = s * .62 + (i + 1) * s * .05
            d.line((0, y, s, y), fill=_shade(floor, .8), width=max(1, s // 200))
        return img
    if kind == 1:  # checker floor under a sky
        img = _gradient(s, s, (120, 170, 235), (220, 235, 250))
        tiles = (np.indices((8, 8)).sum(0) % 2).astype(np.uint8)
        a, b = np.array(_color(rng, 40, 120)), np.array(_color(rng, 170, 250))
        floor = Image.fromarray(np.where(tiles[..., None] == 1, a, b).astype(np.uint8)).resize((s, s * 4 // 10), Image.NEAREST)
        img.paste(floor, (0, s - floor.height))
        return img
    if kind == 2:  # soft coloured noise
        base = np.stack([_value_noise(rng, s, s, 5) for _ in range(3)], -1)
        return Image.fromarray((60 + 170 * base).astype(np.uint8))
    if kind == 3:  # grass and sky with a sun
        img = _gradient(s, s, (90, 150, 230), (200, 225, 250))
        d = ImageDraw.Draw(img)
        d.ellipse((s * .78, s * .06, s * .92, s * .2), fill=(255, 220, 80))
        d.rectangle((0, s * .58, s, s), fill=(70, 150, 60))
        for x in rng.integers(0, s, 60):
            d.line((int(x), s * .62, int(x) + 4, s * .55), fill=(50, 120, 40), width=max(1, s // 250))
        return img
    return _gradient(s, s, _color(rng), _color(rng))  # plain studio gradient


def far_to_near(w: int, h: int) -> Image.Image:
    """Procedural depth of a scene without objects: far (dark) at the top, near (bright) below."""
    return _gradient(w, h, (20, 20, 20), (170, 170, 170)).convert("L")


def subject_view(name: str, index: int) -> tuple[Image.Image, Image.Image]:
    """View ``index`` of subject ``name`` (own pose, scale, place, background) and its depth map."""
    spec = next(x for x in SUBJECTS if x[0] == name)
    rng = rng_for(f"{name}/{index}")
    s = SIZE * SS
    bg = _background(rng, (SUBJECTS.index(spec) + index) % 5, s)
    layer = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    spec[2](ImageDraw.Draw(layer), spec[3], s)
    scale = float(rng.uniform(.7, 1.05))
    layer = layer.rotate(float(rng.uniform(-25, 25)), resample=Image.BICUBIC)
    layer = layer.resize((int(s * scale), int(s * scale)), Image.BICUBIC)
    dx, dy = (int(v) for v in rng.integers(-s // 10, s // 10 + 1, 2))
    x, y = (s - layer.width) // 2 + dx, (s - layer.height) // 2 + dy
    shadow = Image.new("L", (s, s), 0)
    ImageDraw.Draw(shadow).ellipse((x + layer.width * .25, y + layer.height * .8, x + layer.width * .8,
                                    y + layer.height * .92), fill=90)
    bg.paste((30, 30, 30), (0, 0), shadow.filter(ImageFilter.GaussianBlur(s // 60)))
    bg.paste(layer, (x, y), layer)
    depth = far_to_near(s, s)
    depth.paste(235, (x, y), layer.getchannel("A"))  # the subject is nearest
    return bg.resize((SIZE, SIZE), Image.LANCZOS), depth.resize((SIZE, SIZE), Image.BILINEAR)


# --------------------------------------------------------------------------- styles
def _stripes(rng: np.random.Generator, s: int) -> Image.Image:
    yy, xx = np.mgrid[0:s, 0:s]
    band = ((xx + yy) // (s // 12)) % 6
    palette = np.array([(230, 60, 60), (240, 150, 40), (240, 220, 60), (70, 180, 90), (60, 120, 220), (140, 70, 200)])
    return Image.fromarray(palette[band].astype(np.uint8))


def _dots(rng: np.random.Generator, s: int) -> Image.Image:
    img = Image.new("RGB", (s, s), _color(rng, 200, 255))
    d = ImageDraw.Draw(img)
    step = s // 8
    for i in range(9):
        for j in range(9):
            r = step * .3
            cx, cy = i * step + (step // 2 if j % 2 else 0), j * step
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_color(rng, 20, 200))
    return img


def _neon(rng: np.random.Generator, s: int) -> Image.Image:
    img = _gradient(s, s, (10, 0, 40), (40, 0, 60))
    glow = Image.new("RGB", (s, s), (0, 0, 0))
    d = ImageDraw.Draw(glow)
    for _ in range(6):
        x, y = (int(v) for v in rng.integers(0, s, 2))
        r = int(rng.integers(s // 12, s // 4))
        d.ellipse((x - r, y - r, x + r, y + r), outline=(int(rng.integers(100, 256)), 40, 255), width=s // 60)
    blurred = glow.filter(ImageFilter.GaussianBlur(s // 50))
    return Image.fromarray(np.clip(np.asarray(img, np.int16) + np.asarray(blurred) + np.asarray(glow) // 2, 0, 255).astype(np.uint8))


def _texture(rng: np.random.Generator, s: int) -> Image.Image:
    n = sum(_value_noise(rng, s, s, c) / k for k, c in ((1, 4), (2, 12), (4, 40)))
    n = (n - n.min()) / (n.max() - n.min())
    a, b = np.array(_color(rng)), np.array(_color(rng))
    return Image.fromarray((a * n[..., None] + b * (1 - n[..., None])).astype(np.uint8))


def _strokes(rng: np.random.Generator, s: int, palette: list[RGB], swirl: float) -> Image.Image:
    img = Image.new("RGB", (s, s), palette[0])
    d = ImageDraw.Draw(img)
    field = _value_noise(rng, s, s, 4) * np.pi * swirl
    for x, y in rng.integers(0, s, (900, 2)):
        a, length = float(field[y, x]), float(rng.uniform(s / 40, s / 14))
        col = palette[int(rng.integers(0, len(palette)))]
        d.line((x, y, x + length * np.cos(a), y + length * np.sin(a)), fill=_shade(col, float(rng.uniform(.8, 1.2))),
               width=int(rng.integers(s // 120 + 1, s // 45 + 2)))
    return img


def _grid(rng: np.random.Generator, s: int) -> Image.Image:
    img = Image.new("RGB", (s, s), (245, 242, 230))
    d = ImageDraw.Draw(img)
    xs, ys = sorted(rng.integers(s // 8, s - s // 8, 3)), sorted(rng.integers(s // 8, s - s // 8, 3))
    for (x0, x1), col in zip([(0, xs[0]), (xs[1], xs[2]), (xs[2], s)], [(220, 30, 30), (30, 60, 170), (250, 210, 20)]):
        d.rectangle((x0, ys[0], x1, ys[1]), fill=col)
    for v in xs:
        d.line((v, 0, v, s), fill=(15, 15, 15), width=s // 40)
    for v in ys:
        d.line((0, v, s, v), fill=(15, 15, 15), width=s // 40)
    return img


def _circles(rng: np.random.Generator, s: int) -> Image.Image:
    img = _gradient(s, s, (200, 200, 190), (150, 150, 150))
    d = ImageDraw.Draw(img)
    for _ in range(9):
        x, y = (int(v) for v in rng.integers(0, s, 2))
        r = int(rng.integers(s // 20, s // 6))
        d.ellipse((x - r, y - r, x + r, y + r), fill=_color(rng), outline=(20, 20, 20), width=s // 150 + 1)
    for _ in range(6):
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, s, 4))
        d.line((x0, y0, x1, y1), fill=(20, 20, 20), width=s // 100 + 1)
    return img


STYLES: dict[str, tuple[Callable[[np.random.Generator, int], Image.Image], str]] = {
    "styledrop/stripes.jpg": (_stripes, "diagonal rainbow stripes"),
    "styledrop/dots.jpg": (_dots, "a polka-dot pattern"),
    "styledrop/neon.jpg": (_neon, "glowing neon rings on a dark background"),
    "styledrop/texture.jpg": (_texture, "a smooth two-tone noise texture"),
    "classic/swirls.jpg": (lambda r, s: _strokes(r, s, [(20, 40, 110), (60, 90, 180), (240, 210, 70), (30, 30, 60)], 2.0),
                           "swirling blue and yellow brush strokes"),
    "classic/waves.jpg": (lambda r, s: _strokes(r, s, [(200, 80, 30), (240, 150, 40), (60, 70, 120)], 0.6),
                          "expressive orange and blue strokes"),
    "classic/grid.jpg": (_grid, "a grid of black lines and primary-colour blocks"),
    "classic/circles.jpg": (_circles, "abstract circles and lines"),
}


# --------------------------------------------------------------------------- content scenes
def scene(name: str, rng: np.random.Generator, w: int, h: int) -> Image.Image:
    img = _gradient(w, h, (90, 150, 230), (215, 230, 250))
    d = ImageDraw.Draw(img)
    g = h * .68
    if name == "house":
        d.rectangle((0, g, w, h), fill=(80, 160, 70))
        d.rectangle((w * .3, h * .42, w * .7, g + 4), fill=(190, 50, 40))
        d.polygon([(w * .25, h * .44), (w * .5, h * .2), (w * .75, h * .44)], fill=(90, 50, 40))
        d.rectangle((w * .45, h * .52, w * .55, g + 4), fill=(70, 40, 20))
        d.rectangle((w * .34, h * .48, w * .42, h * .56), fill=(230, 230, 160))
    elif name == "mountains":
        d.rectangle((0, g, w, h), fill=(60, 140, 60))
        for x0, top, col in ((-.1, .25, (110, 110, 130)), (.35, .15, (90, 95, 115)), (.65, .3, (120, 120, 140))):
            peak = (w * (x0 + .3), h * top)
            d.polygon([(w * x0, g), peak, (w * (x0 + .6), g)], fill=col)
            d.polygon([peak, (peak[0] - w * .06, h * (top + .1)), (peak[0] + w * .06, h * (top + .1))], fill=(250, 250, 250))
    elif name == "skyline":
        img.paste(_gradient(w, h, (250, 140, 60), (120, 50, 110)))
        d.rectangle((0, h * .85, w, h), fill=(30, 30, 50))
        x = 0.0
        while x < w:
            bw, bh = float(rng.uniform(w * .06, w * .12)), float(rng.uniform(h * .25, h * .7))
            d.rectangle((x, h * .85 - bh, x + bw, h * .85), fill=_color(rng, 20, 70))
            for wy in np.arange(h * .85 - bh + 6, h * .85 - 6, 12):
                d.line((x + 4, wy, x + bw - 4, wy), fill=(250, 220, 120), width=2)
            x += bw + 2
    elif name == "sailboat":
        d.rectangle((0, h * .6, w, h), fill=(30, 90, 160))
        d.polygon([(w * .3, h * .62), (w * .7, h * .62), (w * .62, h * .72), (w * .38, h * .72)], fill=(110, 60, 30))
        d.line((w * .5, h * .62, w * .5, h * .18), fill=(60, 40, 20), width=4)
        d.polygon([(w * .51, h * .2), (w * .51, h * .6), (w * .7, h * .6)], fill=(250, 250, 250))
        d.polygon([(w * .49, h * .25), (w * .49, h * .6), (w * .34, h * .6)], fill=(235, 235, 225))
    else:  # tree
        d.ellipse((-w * .2, g - h * .1, w * 1.2, h * 1.3), fill=(90, 170, 70))
        d.rectangle((w * .47, h * .4, w * .53, g), fill=(100, 60, 30))
        d.ellipse((w * .3, h * .12, w * .7, h * .5), fill=(40, 120, 40))
    return img


CONTENT: dict[str, str] = {
    "house": "a red house with a pitched roof under a blue sky",
    "mountains": "snowy mountains above a green valley",
    "skyline": "a city skyline at sunset",
    "sailboat": "a sailboat with white sails on a calm sea",
    "tree": "a round tree on a green hill",
}
CONTENT_SIZE = (320, 240)  # not square, as real photos are not


# --------------------------------------------------------------------------- faces
#: Identities of the synthetic faces pool: skin, hair colour, hair style, eye colour, face width, eye spacing.
FACES: dict[str, tuple[RGB, RGB, int, RGB, float, float]] = {
    "ada": ((240, 200, 170), (60, 40, 25), 0, (60, 110, 160), 0.30, 0.10),
    "bo": ((150, 100, 70), (20, 20, 20), 1, (70, 50, 30), 0.34, 0.12),
    "cleo": ((225, 175, 140), (200, 120, 50), 2, (60, 140, 80), 0.28, 0.09),
    "dev": ((190, 140, 100), (110, 110, 110), 1, (40, 40, 40), 0.33, 0.11),
}
FACE_VIEWS = 4


def face_view(name: str, index: int) -> Image.Image:
    """View ``index`` of synthetic person ``name``: the same face (shape, colours, hair) in its own pose,
    scale, place, expression and background."""
    skin, hair, style, iris, half_w, eye_dx = FACES[name]
    rng = rng_for(f"faces/{name}/{index}")
    s = SIZE * SS
    img = _gradient(s, s, _color(rng, 120, 240), _color(rng, 80, 200))
    layer = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    cx, top, bottom = s * .5, s * .22, s * .8
    if style == 1:  # long hair behind the face
        d.rounded_rectangle((cx - s * (half_w + .07), top - s * .04, cx + s * (half_w + .07), bottom), s // 10, fill=hair)
    d.ellipse((cx - s * half_w, top, cx + s * half_w, bottom), fill=skin, outline=_shade(skin, .7), width=s // 120)
    d.chord((cx - s * (half_w + .01), top - s * .06, cx + s * (half_w + .01), top + s * .22), 180, 360, fill=hair)
    if style == 2:  # a bun on top
        d.ellipse((cx - s * .08, top - s * .14, cx + s * .08, top + s * .02), fill=hair)
    eye_y = s * .45
    for sign in (-1, 1):
        ex = cx + sign * s * eye_dx
        d.ellipse((ex - s * .045, eye_y - s * .025, ex + s * .045, eye_y + s * .025), fill=(250, 250, 250))
        d.ellipse((ex - s * .02, eye_y - s * .02, ex + s * .02, eye_y + s * .02), fill=iris)
        d.line((ex - s * .05, eye_y - s * .05, ex + s * .05, eye_y - s * .055), fill=_shade(hair, .9), width=s // 90)
    d.polygon([(cx, eye_y + s * .03), (cx - s * .03, s * .58), (cx + s * .03, s * .58)], fill=_shade(skin, .85))
    smile = float(rng.uniform(.02, .07))
    d.chord((cx - s * .09, s * .62 - smile * s, cx + s * .09, s * .66 + smile * s), 0, 180, fill=(170, 60, 70))
    layer = layer.rotate(float(rng.uniform(-15, 15)), resample=Image.BICUBIC)
    scale = float(rng.uniform(.8, 1.0))
    layer = layer.resize((int(s * scale), int(s * scale)), Image.BICUBIC)
    dx, dy = (int(v) for v in rng.integers(-s // 14, s // 14 + 1, 2))
    img.paste(layer, ((s - layer.width) // 2 + dx, (s - layer.height) // 2 + dy), layer)
    return img.resize((SIZE, SIZE), Image.LANCZOS)
