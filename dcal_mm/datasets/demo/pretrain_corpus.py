# Copyright (c) OpenMMLab. All rights reserved.
"""A procedural image-classification corpus for pretraining the demo ViTs.

The paper fine-tunes ImageNet-pretrained ViTs; nothing is downloaded here, so
the demo backbone is pretrained on images the project draws itself. Each
image shows one object on a random background; the class is the pair
(object shape, surface texture): 16 shapes x 8 textures = 128 classes, and
each class also has a hue (one of :data:`CLASS_HUES`, around which its
object's main colour is drawn). Size, position, a small rotation, a mirror
flip, the texture's scale and phase, the second texture colour, the
background (linear or radial gradient, smooth noise), grain and a clutter of
small distractor objects are drawn per image, independently of the class.

Our choice: the class hue is there because colour carries identity in the
Re-ID demo (and on real people and vehicles); with colours drawn
independently of the class, pretraining taught the backbone to ignore
colour, and the Re-ID demo fine-tuned from it reached mAP 15 where the same
model from scratch reaches 61 (30 epochs, seed 0). Some classes differ only in a small detail
(``disc`` vs ``keyhole``: a hole of about 6 pixels; ``checker`` vs
``speckle``: a regular or a random pattern of 4-5 or 2 pixel cells), so the
features must also read local detail, as the fine-grained tasks need.

The corpus is disjoint from both demo sets by construction: no birds, no
people, and no 4x4 block markers. The FGVC demo's classes are 12x12 markers
of 3-pixel black/white blocks; no texture here has 3-pixel blocks or
3-pixel stripes (see :data:`TEXTURE_SCALES`), and colours are random.

Shapes are not rotated by more than :data:`MAX_ROTATION` degrees, so that a
square never turns into a diamond, and textures are drawn in image axes, so
that horizontal and vertical stripes stay apart. Every class is closed under
a horizontal flip (shapes are mirrored at random, diagonal stripes go either
way), so flipping is a label-preserving augmentation.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from dcal_mm.utils.progress import Progress

PRETRAIN_SHAPES: Tuple[str, ...] = ('disc', 'ring', 'square', 'triangle', 'star', 'cross', 'hexagon', 'crescent',
                                    'heart', 'arrow', 'ellipse', 'lshape', 'diamond', 'trapezoid', 'pentagon',
                                    'keyhole')
PRETRAIN_TEXTURES: Tuple[str, ...] = ('solid', 'hstripes', 'vstripes', 'dstripes', 'checker', 'dots', 'rings',
                                      'speckle')
MAX_PRETRAIN_CLASSES = len(PRETRAIN_SHAPES) * len(PRETRAIN_TEXTURES)

# Texture scales in pixels at 64x64 (scaled with the image): stripe and ring periods (half of it is one stripe),
# checker and speckle cells, dot spacing. Half-periods and cells avoid the FGVC demo's 3-pixel marker blocks.
TEXTURE_SCALES: Dict[str, Tuple[int, ...]] = dict(
    stripes=(7, 8, 9, 10), rings=(7, 8, 9), checker=(4, 5), dots=(6, 7, 8), speckle=(2, ))
MAX_ROTATION = 12.  # degrees, either way
CLASS_HUES = 12  # hues 30 degrees apart; a class's main colour is within HUE_JITTER of its own
HUE_JITTER = 10.  # degrees
OBJECT_RADIUS = (13., 26.)  # pixels at 64x64: the object spans 40-80% of the image
DISTRACTOR_RADIUS = (2.5, 6.)  # pixels at 64x64: well below the smallest object
META_FILE = 'corpus.json'
_GENERATOR = 'dcal_mm.datasets.demo.pretrain_corpus v1'
_SPLITS = dict(train=0, val=1)  # part of each image's random stream


def _circle(r: float = 1., cx: float = 0., cy: float = 0., n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _regular(n: int, r: float = 1., start: float = -np.pi / 2) -> np.ndarray:
    """Regular polygon, first vertex at angle ``start`` (up by default)."""
    t = start + np.arange(n) * 2 * np.pi / n
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _star(points: int = 5, outer: float = 1., inner: float = 0.42) -> np.ndarray:
    t = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _heart(n: int = 64) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = 16 * np.sin(t)**3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y + 2.5], axis=1) / 16.5


def _poly(*points: Tuple[float, float]) -> np.ndarray:
    return np.array(points, dtype=np.float64)


# Each shape: polygons in units of the object radius (x right, y down), drawn in order; 1 fills, 0 cuts a hole.
_SHAPE_POLYGONS: Dict[str, List[Tuple[np.ndarray, int]]] = {
    'disc': [(_circle(), 1)],
    'ring': [(_circle(), 1), (_circle(0.55), 0)],
    'square': [(_poly((-.8, -.8), (.8, -.8), (.8, .8), (-.8, .8)), 1)],
    'triangle': [(_regular(3, 1.05, start=-np.pi / 2) + [0., 0.2], 1)],
    'star': [(_star(), 1)],
    'cross': [(_poly((-.27, -.95), (.27, -.95), (.27, -.27), (.95, -.27), (.95, .27), (.27, .27), (.27, .95),
                     (-.27, .95), (-.27, .27), (-.95, .27), (-.95, -.27), (-.27, -.27)), 1)],
    'hexagon': [(_regular(6, .95, start=0.), 1)],
    'crescent': [(_circle(), 1), (_circle(.82, cx=.42, cy=-.12), 0)],
    'heart': [(_heart(), 1)],
    'arrow': [(_poly((-1., -.22), (.15, -.22), (.15, -.62), (1., 0.), (.15, .62), (.15, .22), (-1., .22)), 1)],
    'ellipse': [(_circle() * [1., .5], 1)],
    'lshape': [(_poly((-.7, -.9), (-.2, -.9), (-.2, .4), (.7, .4), (.7, .9), (-.7, .9)), 1)],
    'diamond': [(_poly((0., -1.), (.62, 0.), (0., 1.), (-.62, 0.)), 1)],
    'trapezoid': [(_poly((-1., .55), (1., .55), (.45, -.55), (-.45, -.55)), 1)],
    'pentagon': [(_regular(5, 1.), 1)],
    # a disc with a small keyhole cut out: it differs from 'disc' only in this detail (about 6x8 pixels at the
    # smallest size)
    'keyhole': [(_circle(), 1), (_circle(.2, cy=-.12), 0), (_poly((-.09, -.1), (.09, -.1), (.16, .42), (-.16, .42)),
                                                            0)],
}
assert tuple(_SHAPE_POLYGONS) == PRETRAIN_SHAPES


def pretrain_class(label: int) -> Tuple[str, str]:
    """The (shape, texture) of a class.

    Classes are ordered so that any prefix mixes shapes and textures: class
    ``k`` has shape ``k % 16`` and texture ``(k // 16 + k) % 8``, so e.g. the
    first 16 classes are the 16 shapes, each with one of the 8 textures.

    Args:
        label (int): 0-based class index, below :data:`MAX_PRETRAIN_CLASSES`.

    Returns:
        tuple[str, str]: Shape and texture names.
    """
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < MAX_PRETRAIN_CLASSES:
        raise ValueError(f'label must be an int in [0, {MAX_PRETRAIN_CLASSES}), got {label!r}')
    num_shapes, num_textures = len(PRETRAIN_SHAPES), len(PRETRAIN_TEXTURES)
    return PRETRAIN_SHAPES[label % num_shapes], PRETRAIN_TEXTURES[(label // num_shapes + label) % num_textures]


def pretrain_class_names(num_classes: int = MAX_PRETRAIN_CLASSES) -> List[str]:
    """Folder names of the classes, ``'001.disc_solid'`` style (sorted
    order is label order, as MMPretrain's ``CustomDataset`` assigns labels).

    Args:
        num_classes (int): Number of classes, at most 128. Defaults to 128.

    Returns:
        list[str]: ``num_classes`` names.
    """
    _check_int('num_classes', num_classes, 1, MAX_PRETRAIN_CLASSES)
    return [f'{k + 1:03d}.{"_".join(pretrain_class(k))}' for k in range(num_classes)]


def _check_int(name: str, value: int, low: int, high: int = 10**6) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f'{name} must be an int in [{low}, {high}], got {value!r}')


def shape_alpha(shape: str, size: Tuple[int, int], centre: Tuple[float, float], radius: float, angle: float = 0.,
                mirror: bool = False) -> np.ndarray:
    """Anti-aliased coverage mask of one shape.

    Args:
        shape (str): One of :data:`PRETRAIN_SHAPES`.
        size (tuple[int, int]): Canvas (height, width).
        centre (tuple[float, float]): Object centre (x, y) in pixels.
        radius (float): Object radius in pixels (the shapes span about
            ``2 * radius``).
        angle (float): Rotation in degrees, counter-clockwise on screen.
        mirror (bool): Mirror left-right before rotating.

    Returns:
        np.ndarray: ``(H, W)`` float32 in [0, 1].
    """
    if shape not in _SHAPE_POLYGONS:
        raise ValueError(f'shape must be one of {PRETRAIN_SHAPES}, got {shape!r}')
    theta = np.deg2rad(-angle)  # y points down: negate for a counter-clockwise turn on screen
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    canvas = np.zeros(size, dtype=np.uint8)
    shift = 4  # sub-pixel vertex positions (1/16 pixel)
    for polygon, value in _SHAPE_POLYGONS[shape]:
        pts = polygon * ([-1., 1.] if mirror else [1., 1.])
        pts = pts @ rot.T * radius + centre
        pts = np.round(pts * (1 << shift)).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 255 * value, lineType=cv2.LINE_AA, shift=shift)
    return canvas.astype(np.float32) / 255.


def texture_map(texture: str, size: Tuple[int, int], centre: Tuple[float, float], rng: np.random.Generator,
                scale: float = 1.) -> np.ndarray:
    """Where the second colour shows, for one texture, in image axes.

    Stripes, checker and dots have soft (about one pixel) edges, so their
    scale need not be a whole number of pixels.

    Args:
        texture (str): One of :data:`PRETRAIN_TEXTURES`.
        size (tuple[int, int]): Canvas (height, width).
        centre (tuple[float, float]): Object centre (x, y), the origin of the
            pattern (the centre of the rings).
        rng (np.random.Generator): Draws the scale, phase and direction.
        scale (float): Image side / 64: the pattern scales with the image.

    Returns:
        np.ndarray: ``(H, W)`` float32 in [0, 1]: 0 is the first colour.
    """
    if texture not in PRETRAIN_TEXTURES:
        raise ValueError(f'texture must be one of {PRETRAIN_TEXTURES}, got {texture!r}')
    h, w = size
    # broadcast (1, W) and (H, 1) coordinates: the full grid is made only where a texture needs it
    xx = np.arange(w, dtype=np.float32)[None] - np.float32(centre[0])
    yy = np.arange(h, dtype=np.float32)[:, None] - np.float32(centre[1])

    def square_wave(u: np.ndarray, period: float) -> np.ndarray:
        # a +-1 square wave with edges about one pixel wide: sharp like print, not aliased
        return np.clip(np.sin(2 * np.pi * u / period) * period / 3., -1., 1.)

    if texture == 'solid':
        return np.zeros(size, dtype=np.float32)
    full = np.zeros(size, dtype=np.float32)  # broadcasts a pattern of one axis to the whole patch
    if texture in ('hstripes', 'vstripes', 'dstripes'):
        period = rng.choice(TEXTURE_SCALES['stripes']) * scale
        phase = rng.uniform(0, period)
        if texture == 'hstripes':
            u = yy
        elif texture == 'vstripes':
            u = xx
        else:  # either diagonal, so that the class is closed under flips
            u = (xx + yy * rng.choice((-1., 1.))) / np.sqrt(2.)
        return full + (0.5 + 0.5 * square_wave(u + phase, period))
    if texture == 'rings':
        period = rng.choice(TEXTURE_SCALES['rings']) * scale
        return 0.5 + 0.5 * square_wave(np.hypot(xx, yy) + rng.uniform(0, period), period)
    if texture == 'checker':
        cell = rng.choice(TEXTURE_SCALES['checker']) * scale
        px, py = rng.uniform(0, 2 * cell, size=2)
        return full + (0.5 + 0.5 * square_wave(xx + px, 2 * cell) * square_wave(yy + py, 2 * cell))
    if texture == 'dots':
        spacing = rng.choice(TEXTURE_SCALES['dots']) * scale
        px, py = rng.uniform(0, spacing, size=2)
        dx = (xx + px) % spacing - spacing / 2
        dy = (yy + py) % spacing - spacing / 2
        radius = rng.uniform(0.22, 0.32) * spacing
        return np.clip(radius + 0.5 - np.hypot(dx, dy), 0., 1.)
    # speckle: random binary cells, the irregular counterpart of the checker
    cell = max(1, int(round(TEXTURE_SCALES['speckle'][0] * scale)))
    cells = (rng.random((-(-h // cell), -(-w // cell))) < 0.5).astype(np.float32)
    return np.kron(cells, np.ones((cell, cell), dtype=np.float32))[:h, :w]


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def class_hue(label: int) -> float:
    """The hue (degrees) of a class's main colour: classes ``k`` and ``k + 1``
    are 150 degrees apart, and the 16 classes of one texture round take 12
    different hues, so hue is not confounded with shape or texture."""
    return float((label * 5 % CLASS_HUES) * 360. / CLASS_HUES)


def _class_colour(rng: np.random.Generator, label: int) -> np.ndarray:
    """A saturated colour (BGR) near the class hue: saturation and value vary, the hue within HUE_JITTER."""
    hue = (class_hue(label) + rng.uniform(-HUE_JITTER, HUE_JITTER)) % 360.
    hsv = np.array([[[hue / 2., rng.uniform(150, 255), rng.uniform(130, 255)]]], dtype=np.float32)
    hsv = np.clip(np.round(hsv), 0, [179, 255, 255]).astype(np.uint8)  # OpenCV's 8-bit HSV: hue in [0, 180)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _far_colour(rng: np.random.Generator, *others: np.ndarray, min_dist: float = 90.) -> np.ndarray:
    """A random colour at least ``min_dist`` (RGB distance) from ``others``
    where 8 tries find one (the farthest of them otherwise)."""
    best, best_dist = None, -1.
    for _ in range(8):
        c = _colour(rng)
        dist = min(float(np.linalg.norm(c - o)) for o in others)
        if dist >= min_dist:
            return c
        if dist > best_dist:
            best, best_dist = c, dist
    return best


def _background(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """A linear or radial gradient, or two colours mixed by smooth noise."""
    h, w = size
    c1 = _colour(rng)
    c2 = _far_colour(rng, c1, min_dist=60.)
    kind = rng.integers(3)
    xx = np.arange(w, dtype=np.float32)[None]
    yy = np.arange(h, dtype=np.float32)[:, None]
    if kind == 0:
        a = rng.uniform(0, 2 * np.pi)
        u = np.float32(np.cos(a) / w) * xx + np.float32(np.sin(a) / h) * yy
        mix = (u - u.min()) / max(float(u.max() - u.min()), 1e-6)
    elif kind == 1:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        mix = np.minimum(np.hypot(xx - np.float32(cx), yy - np.float32(cy)) /
                         np.float32(rng.uniform(0.5, 1.2) * max(h, w)), 1)
    else:
        grid = int(rng.integers(2, 7))
        mix = cv2.resize(rng.random((grid, grid), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        mix = np.clip(mix, 0, 1)
    mix = mix[..., None]
    return c1 + (c2 - c1) * mix


def _draw_object(img: np.ndarray, shape: str, texture: str, centre: Tuple[float, float], radius: float,
                 angle: float, mirror: bool, rng: np.random.Generator, scale: float,
                 colours: Optional[Tuple[np.ndarray, np.ndarray]] = None,
                 main_colour: Optional[np.ndarray] = None) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Paint one object into ``img`` (float32, in place), working on its
    bounding box only (most of the drawing time otherwise).

    Args:
        colours (tuple, optional): The texture's two colours; None draws them
            after the shape, the second far from the first and both far from
            the background under the object.
        main_colour (np.ndarray, optional): With ``colours=None``, the first
            colour (the class colour) instead of a random one.

    Returns:
        tuple: The object's coverage mask within its box and the box's
        top-left corner (x, y).
    """
    h, w = img.shape[:2]
    ext = 1.2 * radius + 2  # every shape lies within 1.15 radii of its centre
    x0, y0 = max(0, int(np.floor(centre[0] - ext))), max(0, int(np.floor(centre[1] - ext)))
    x1, y1 = min(w, int(np.ceil(centre[0] + ext))), min(h, int(np.ceil(centre[1] + ext)))
    box = img[y0:y1, x0:x1]
    local = (centre[0] - x0, centre[1] - y0)
    alpha = shape_alpha(shape, box.shape[:2], local, radius, angle, mirror)
    tex = texture_map(texture, box.shape[:2], local, rng, scale)
    if colours is None:
        bg_mean = (box * alpha[..., None]).sum((0, 1)) / max(float(alpha.sum()), 1.)
        c1 = _far_colour(rng, bg_mean, min_dist=90.) if main_colour is None else main_colour
        colours = (c1, _far_colour(rng, c1, bg_mean, min_dist=90.))
    obj = colours[0] * (1 - tex[..., None]) + colours[1] * tex[..., None]
    a = alpha[..., None]
    box *= 1 - a
    box += obj * a
    return alpha, (x0, y0)


def draw_pretrain_image(rng: np.random.Generator, label: int, img_size: int = 64,
                        return_alpha: bool = False):
    """Draw one image of a class.

    Args:
        rng (np.random.Generator): Source of all randomness.
        label (int): 0-based class, see :func:`pretrain_class`.
        img_size (int): Side of the square image. Defaults to 64.
        return_alpha (bool): Also return the class object's coverage mask.

    Returns:
        np.ndarray | tuple: BGR uint8 ``(img_size, img_size, 3)``, and with
        ``return_alpha`` the ``(img_size, img_size)`` float32 mask of the
        class object (the distractors lie under it).
    """
    shape, texture = pretrain_class(label)
    s = img_size / 64.
    img = _background(rng, (img_size, img_size))

    # clutter: small objects of any shape and texture, under the main object
    for _ in range(int(rng.integers(0, 7))):
        _draw_object(img, PRETRAIN_SHAPES[rng.integers(len(PRETRAIN_SHAPES))],
                     PRETRAIN_TEXTURES[rng.integers(len(PRETRAIN_TEXTURES))], tuple(rng.uniform(0, img_size, 2)),
                     rng.uniform(*DISTRACTOR_RADIUS) * s, rng.uniform(-180, 180), bool(rng.integers(2)), rng, s,
                     colours=(_colour(rng), _colour(rng)))

    radius = rng.uniform(*OBJECT_RADIUS) * s
    lo, hi = 0.9 * radius + 2 * s, img_size - 0.9 * radius - 2 * s
    centre = (rng.uniform(lo, hi), rng.uniform(lo, hi))
    alpha, (x0, y0) = _draw_object(img, shape, texture, centre, radius, rng.uniform(-MAX_ROTATION, MAX_ROTATION),
                                   bool(rng.integers(2)), rng, s, main_colour=_class_colour(rng, label))

    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(2, 8))  # sensor grain
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)  # random colours: BGR or RGB is all the same
    if not return_alpha:
        return img
    full = np.zeros((img_size, img_size), dtype=np.float32)
    full[y0:y0 + alpha.shape[0], x0:x0 + alpha.shape[1]] = alpha
    return img, full


def _meta(num_classes: int, images_per_class: int, val_per_class: int, img_size: int, seed: int) -> dict:
    return dict(generator=_GENERATOR, seed=int(seed), num_classes=int(num_classes),
                images_per_class=int(images_per_class), val_per_class=int(val_per_class), img_size=int(img_size),
                classes=pretrain_class_names(num_classes))


def _counts(meta: dict) -> Dict[str, int]:
    return dict(train=meta['images_per_class'], val=meta['val_per_class'])


def corpus_is_complete(root: str, num_classes: int = MAX_PRETRAIN_CLASSES, images_per_class: int = 100,
                       val_per_class: int = 10, img_size: int = 64, seed: int = 0) -> bool:
    """Whether ``root`` holds a finished corpus made with these arguments.

    :func:`make_pretrain_corpus` writes ``corpus.json`` last, so a corpus
    cut short (or made with other arguments) is not complete.

    Returns:
        bool: True if the metadata match and every class folder holds the
        expected number of images.
    """
    meta_file = osp.join(root, META_FILE)
    if not osp.isfile(meta_file):
        return False
    with open(meta_file) as f:
        try:
            meta = json.load(f)
        except json.JSONDecodeError:
            return False
    want = _meta(num_classes, images_per_class, val_per_class, img_size, seed)
    if meta != want:
        return False
    for split, count in _counts(want).items():
        split_dir = osp.join(root, split)
        if not osp.isdir(split_dir) or sorted(os.listdir(split_dir)) != want['classes']:
            return False
        for name in want['classes']:
            if len(os.listdir(osp.join(split_dir, name))) != count:
                return False
    return True


def make_pretrain_corpus(root: str,
                         num_classes: int = MAX_PRETRAIN_CLASSES,
                         images_per_class: int = 100,
                         val_per_class: int = 10,
                         img_size: int = 64,
                         seed: int = 0,
                         overwrite: bool = False,
                         progress: bool = True) -> str:
    """Write the pretraining corpus in a folder-per-class layout::

        root/
        ├── train/<NNN.shape_texture>/<NNNN>.png   images_per_class per class
        ├── val/<NNN.shape_texture>/<NNNN>.png     val_per_class per class
        └── corpus.json                            arguments and class names, written last

    so ``mmpretrain.datasets.CustomDataset(data_root=root, data_prefix='train')``
    reads it (labels in folder order). Every image has its own random stream,
    seeded by ``(seed, split, label, index)``: the same seed gives
    byte-identical files (PNG, lossless), a larger ``images_per_class``
    only adds images. 128 x 110 images take about 15 s on one CPU core.

    Args:
        root (str): Output folder.
        num_classes (int): Number of classes, at most 128. Defaults to 128.
        images_per_class (int): Training images per class. Defaults to 100.
        val_per_class (int): Held-out images per class. Defaults to 10.
        img_size (int): Side of the square images, at least 32. Defaults to 64.
        seed (int): Random seed. Defaults to 0.
        overwrite (bool): Replace the ``train``/``val`` folders of another
            corpus in ``root``. If False, they are an error. A complete
            corpus with the same arguments is kept either way. Defaults to
            False.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        str: ``root``.
    """
    _check_int('images_per_class', images_per_class, 1)
    _check_int('val_per_class', val_per_class, 1)
    _check_int('img_size', img_size, 32, 4096)
    _check_int('seed', seed, 0, 2**63 - 1)
    meta = _meta(num_classes, images_per_class, val_per_class, img_size, seed)  # checks num_classes
    if corpus_is_complete(root, num_classes, images_per_class, val_per_class, img_size, seed):
        return root
    existing = [name for name in (*_SPLITS, META_FILE) if osp.exists(osp.join(root, name))]
    if existing:
        if not overwrite:
            raise FileExistsError(f'{root} holds another or an unfinished corpus ({", ".join(existing)}); pass '
                                  'overwrite=True (--overwrite on the command line) to replace it')
        # only what this function writes: root may be a folder with other contents
        for name in existing:
            path = osp.join(root, name)
            shutil.rmtree(path) if osp.isdir(path) else os.remove(path)

    bar = Progress(num_classes, enabled=progress, desc=f'writing {root} (classes)')
    for label, name in enumerate(meta['classes']):
        for split, count in _counts(meta).items():
            folder = osp.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                rng = np.random.default_rng([seed, _SPLITS[split], label, i])
                path = osp.join(folder, f'{i:04d}.png')
                if not cv2.imwrite(path, draw_pretrain_image(rng, label, img_size)):
                    raise OSError(f'could not write {path}')
        bar.update()
    with open(osp.join(root, META_FILE), 'w') as f:
        json.dump(meta, f, indent=1)
    return root
