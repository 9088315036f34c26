# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny synthetic fine-grained dataset in CUB-200-2011's on-disk layout.

Every image shows a "bird" (body, wing, tail, head, beak) on a random textured
background. Background, colours, size, pose, facing and position are drawn per
image independently of the class. The class is decided only by a small
black-and-white 4x4 block pattern (the "crown marker", 12x12 pixels at 64x64,
3.5% of the image) on the bird's head. All patterns have the same number of
black and white pixels, so global colour statistics carry no class
information, and all are left-right symmetric, so horizontal flips keep the
label.

Our sizing choice: with 8x8 markers (2-pixel blocks) a 6-block ViT (width 96,
patch 8) trained from scratch did not generalise (about 14% test accuracy
after 40 epochs, chance 10%); with 12x12 markers it reached about 69% with 30
training images per class and about 89% with 60 (the default), in a few CPU
minutes.
"""
import os
import os.path as osp
import shutil
from typing import Dict, List, Tuple

import cv2
import numpy as np

from dcal_mm.utils.progress import Progress

# Rows of a 4x4 block pattern, each left-right symmetric.
_ROWS = {'Z': (0, 0, 0, 0), 'E': (1, 0, 0, 1), 'C': (0, 1, 1, 0), 'F': (1, 1, 1, 1)}

# (class name, rows); every pattern has 8 black blocks out of 16.
DEMO_CUB_PATTERNS: Tuple[Tuple[str, str], ...] = (
    ('Bar_Crown', 'ZFFZ'),
    ('Vbar_Crown', 'CCCC'),
    ('Cross_Crown', 'ECCE'),
    ('Diamond_Crown', 'CEEC'),
    ('Top_Crown', 'FFZZ'),
    ('Tee_Crown', 'FCCZ'),
    ('Stripe_Crown', 'FZFZ'),
    ('Cup_Crown', 'EEFZ'),
    ('Plus_Crown', 'CFCZ'),
    ('Frame_Crown', 'FZZF'),
    ('Pillar_Crown', 'EEEE'),
    ('Bottom_Crown', 'ZZFF'),
    ('Stool_Crown', 'ZCCF'),
    ('Dome_Crown', 'ZFEE'),
    ('Low_Plus_Crown', 'ZCFC'),
    ('Low_Stripe_Crown', 'ZFZF'),
)
MAX_DEMO_CUB_CLASSES = len(DEMO_CUB_PATTERNS)

# Part names of CUB-200-2011 ``parts/parts.txt``; the demo locates only some.
CUB_PART_NAMES = ('back', 'beak', 'belly', 'breast', 'crown', 'forehead', 'left eye', 'left leg', 'left wing',
                  'nape', 'right eye', 'right leg', 'right wing', 'tail', 'throat')

_BLACK = 16
_WHITE = 240
_BLOCK_PX = 3  # side of one pattern block at 64x64


def demo_cub_class_names(num_classes: int = 10) -> List[str]:
    """Folder names of the demo classes, ``'001.Bar_Crown'`` style.

    Args:
        num_classes (int): Number of classes. Defaults to 10.

    Returns:
        list[str]: ``num_classes`` names.
    """
    _check_positive('num_classes', num_classes)
    if num_classes > MAX_DEMO_CUB_CLASSES:
        raise ValueError(f'num_classes must be at most {MAX_DEMO_CUB_CLASSES}, got {num_classes}')
    return [f'{i + 1:03d}.{DEMO_CUB_PATTERNS[i][0]}' for i in range(num_classes)]


def demo_cub_pattern(label: int) -> np.ndarray:
    """The 4x4 marker pattern of a class (1 = black block, 0 = white block).

    Args:
        label (int): 0-based class index.

    Returns:
        np.ndarray: ``(4, 4)`` uint8 array.
    """
    if not 0 <= label < MAX_DEMO_CUB_CLASSES:
        raise ValueError(f'label must be in [0, {MAX_DEMO_CUB_CLASSES}), got {label}')
    return np.array([_ROWS[r] for r in DEMO_CUB_PATTERNS[label][1]], dtype=np.uint8)


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f'{name} must be a positive int, got {value!r}')


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=3).astype(np.float32)


def _textured_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Two random colours mixed by smooth noise and faint stripes, plus grain."""
    grid = int(rng.integers(3, 9))
    noise = cv2.resize(rng.random((grid, grid), dtype=np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    freq = rng.uniform(0.15, 0.6)
    stripes = 0.5 + 0.5 * np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy) + rng.uniform(0, 2 * np.pi))
    mix = np.clip(0.75 * noise + 0.25 * stripes, 0, 1)[..., None]
    img = _random_colour(rng) * (1 - mix) + _random_colour(rng) * mix
    img += rng.normal(0, 6, size=img.shape).astype(np.float32)
    return img


def _shade(rng: np.random.Generator, colour: np.ndarray, spread: float = 60.) -> Tuple[float, ...]:
    return tuple(float(c) for c in np.clip(colour + rng.uniform(-spread, spread, size=3), 0, 255))


def _draw_bird(rng: np.random.Generator, size: int, label: int) -> Tuple[np.ndarray, Dict[str, Tuple[float, float]],
                                                                         Tuple[float, float, float, float]]:
    """Draw one image; return it (BGR uint8), part locations and bird bbox."""
    s = size / 64.
    img = _textured_background(rng, size)
    bird = np.zeros((size, size), dtype=np.uint8)

    block = max(1, int(round(_BLOCK_PX * s)))
    marker = 4 * block
    half_m = marker / 2.
    body_a = rng.uniform(9.5, 12.5) * s  # semi-axes
    body_b = rng.uniform(7, 10) * s
    head_r = half_m * rng.uniform(1.45, 1.7)  # > half the marker's diagonal: it lies on the head
    facing = 1 if rng.random() < 0.5 else -1  # +1: head on the right
    tilt = rng.uniform(-15, 15)

    # Keep the bird inside a margin, so that a random 64x64 crop of the image
    # resized to 72x72 (the demo pipeline) never cuts the marker.
    margin = 6 * s
    head_dx = (body_a + 0.45 * head_r) * facing
    head_dy = -0.65 * body_b
    tail_len = rng.uniform(3, 6) * s
    beak_len = rng.uniform(2, 4) * s
    head_side = body_a + 0.45 * head_r + head_r + beak_len
    tail_side = body_a + tail_len
    half_h = np.hypot(body_a * np.sin(np.deg2rad(tilt)), body_b)  # >= the tilted ellipse's half height
    left_extent, right_extent = (tail_side, head_side) if facing == 1 else (head_side, tail_side)
    top_extent = max(half_h, -head_dy + head_r)
    bottom_extent = max(half_h, 6 * s)
    cx = rng.uniform(margin + left_extent, size - margin - right_extent)
    cy = rng.uniform(margin + top_extent, size - margin - bottom_extent)

    body_col = _random_colour(rng)
    colours = dict(
        tail=_shade(rng, body_col), body=tuple(map(float, body_col)), wing=_shade(rng, body_col),
        beak=tuple(map(float, _random_colour(rng))), head=_shade(rng, body_col, 90.))
    centre = (int(round(cx)), int(round(cy)))
    axes = (int(round(body_a)), int(round(body_b)))
    wing_centre = (int(round(cx - facing * body_a * 0.15)), int(round(cy - body_b * 0.1)))
    wing_axes = (max(1, int(round(body_a * 0.6))), max(1, int(round(body_b * 0.45))))
    wing_tilt = tilt + rng.uniform(-10, 10)
    tail_x = cx - facing * (body_a - 2 * s)
    tail = np.array([[tail_x, cy - 2 * s], [tail_x, cy + 3 * s],
                     [tail_x - facing * tail_len, cy + rng.uniform(-4, 5) * s]], dtype=np.int32)
    hx, hy = cx + head_dx, cy + head_dy
    beak = np.array([[hx + facing * 0.8 * head_r, hy - 0.25 * head_r], [hx + facing * 0.8 * head_r, hy + 0.35 * head_r],
                     [hx + facing * (head_r + beak_len), hy + rng.uniform(-1, 2) * s]], dtype=np.int32)

    def draw(canvas: np.ndarray, col: Dict[str, Tuple[float, ...]]) -> None:
        cv2.fillPoly(canvas, [tail], col['tail'])
        cv2.ellipse(canvas, centre, axes, tilt, 0, 360, col['body'], -1)
        cv2.ellipse(canvas, wing_centre, wing_axes, wing_tilt, 0, 360, col['wing'], -1)
        cv2.fillPoly(canvas, [beak], col['beak'])
        cv2.circle(canvas, (int(round(hx)), int(round(hy))), int(round(head_r)), col['head'], -1)

    draw(img, colours)
    draw(bird, {k: 255 for k in colours})
    # Grain on the bird too, so its colour is not one flat value.
    img += rng.normal(0, 5, size=img.shape).astype(np.float32) * (bird[..., None] > 0)

    # The class marker: a 4x4 block pattern centred on the head.
    pattern = demo_cub_pattern(label)
    tile = np.where(np.kron(pattern, np.ones((block, block), dtype=np.uint8))[..., None] > 0, _BLACK, _WHITE)
    x0 = int(round(hx - half_m))
    y0 = int(round(hy - half_m))
    img[y0:y0 + marker, x0:x0 + marker] = tile

    ys, xs = np.nonzero(bird)
    bbox = (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))
    parts = {
        'crown': (x0 + half_m, y0 + half_m),
        'beak': tuple(float(v) for v in beak[2]),
        'tail': tuple(float(v) for v in tail[2]),
    }
    return np.clip(img, 0, 255).astype(np.uint8), parts, bbox


def make_demo_cub(root: str,
                  num_classes: int = 10,
                  train_per_class: int = 60,
                  test_per_class: int = 15,
                  img_size: int = 64,
                  seed: int = 0,
                  overwrite: bool = False,
                  progress: bool = False) -> str:
    """Write the demo fine-grained dataset in CUB-200-2011's layout.

    The files match the real release, with 1-based ids::

        root/CUB_200_2011/
        ├── images/<NNN.Class_Name>/<Class_Name>_<NNNN>.jpg
        ├── images.txt              # <image_id> <relative path>
        ├── image_class_labels.txt  # <image_id> <class_id>
        ├── train_test_split.txt    # <image_id> <1 = train, 0 = test>
        ├── classes.txt             # <class_id> <NNN.Class_Name>
        ├── bounding_boxes.txt      # <image_id> <x> <y> <width> <height>
        └── parts/{parts.txt, part_locs.txt}  # crown (the marker), beak, tail

    so ``mmpretrain.datasets.CUB(data_root='root/CUB_200_2011')`` reads it.
    Generation is deterministic for a given seed (numpy's PCG64) and takes
    about a second with the defaults (750 images of 64x64).

    Args:
        root (str): Output folder; ``CUB_200_2011`` is created inside.
        num_classes (int): Number of classes, at most 16. Defaults to 10.
        train_per_class (int): Training images per class. Defaults to 60.
        test_per_class (int): Test images per class. Defaults to 15.
        img_size (int): Side of the square images, at least 48. Defaults to 64.
        seed (int): Random seed. Defaults to 0.
        overwrite (bool): Replace an existing ``CUB_200_2011`` folder. If
            False, an existing non-empty one is an error. Defaults to False.
        progress (bool): Show an MMEngine progress bar (images written).
            Defaults to False.

    Returns:
        str: The dataset folder ``root/CUB_200_2011``.
    """
    class_names = demo_cub_class_names(num_classes)
    _check_positive('train_per_class', train_per_class)
    _check_positive('test_per_class', test_per_class)
    if not isinstance(img_size, (int, np.integer)) or img_size < 48:
        raise ValueError(f'img_size must be an int of at least 48, got {img_size!r}')

    data_root = osp.join(root, 'CUB_200_2011')
    if osp.isdir(data_root) and os.listdir(data_root):
        if not overwrite:
            raise FileExistsError(f'{data_root} exists and is not empty; pass overwrite=True '
                                  '(--overwrite on the command line) to replace it')
        shutil.rmtree(data_root)
    os.makedirs(osp.join(data_root, 'parts'), exist_ok=True)
    rng = np.random.default_rng(seed)
    per_class = train_per_class + test_per_class

    images, labels, splits, boxes, part_locs = [], [], [], [], []
    bar = Progress(len(class_names) * per_class, enabled=progress, desc=f'writing {data_root}')
    for label, folder in enumerate(class_names):
        os.makedirs(osp.join(data_root, 'images', folder), exist_ok=True)
        is_train = np.zeros(per_class, dtype=bool)
        is_train[rng.permutation(per_class)[:train_per_class]] = True
        stem = folder.split('.', 1)[1]
        for i in range(per_class):
            img, parts, bbox = _draw_bird(rng, img_size, label)
            rel_path = f'{folder}/{stem}_{i + 1:04d}.jpg'
            if not cv2.imwrite(osp.join(data_root, 'images', rel_path), img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
                raise OSError(f'could not write {osp.join(data_root, "images", rel_path)}')
            images.append(rel_path)
            labels.append(label + 1)
            splits.append(int(is_train[i]))
            boxes.append(bbox)
            part_locs.append(parts)
            bar.update()

    def write(name: str, lines: List[str]) -> None:
        with open(osp.join(data_root, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')

    ids = range(1, len(images) + 1)
    write('images.txt', [f'{i} {p}' for i, p in zip(ids, images)])
    write('image_class_labels.txt', [f'{i} {c}' for i, c in zip(ids, labels)])
    write('train_test_split.txt', [f'{i} {s}' for i, s in zip(ids, splits)])
    write('classes.txt', [f'{i + 1} {n}' for i, n in enumerate(class_names)])
    write('bounding_boxes.txt', [f'{i} {x:.1f} {y:.1f} {w:.1f} {h:.1f}' for i, (x, y, w, h) in zip(ids, boxes)])
    write('parts/parts.txt', [f'{i + 1} {n}' for i, n in enumerate(CUB_PART_NAMES)])
    loc_lines = []
    for i, parts in zip(ids, part_locs):
        for part_id, name in enumerate(CUB_PART_NAMES, start=1):
            x, y = parts.get(name, (0., 0.))
            loc_lines.append(f'{i} {part_id} {x:.1f} {y:.1f} {int(name in parts)}')
    write('parts/part_locs.txt', loc_lines)
    return data_root
