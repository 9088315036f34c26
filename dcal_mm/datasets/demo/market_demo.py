# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny synthetic person Re-ID dataset in Market-1501's on-disk layout.

Each image is a 64x32 "pedestrian": head, hair or hat, torso with sleeves,
legs as trousers, shorts or a skirt, shoes, and maybe a backpack or a handbag.
The **identity** fixes the clothing colours and pattern (plain, stripes,
two-tone, chest logo), the body proportions, skin, hair and accessories.
The **camera** fixes the background (wall, floor, texture), brightness,
colour cast, gamma, blur, noise, viewing distance and how often people are
seen from the front (logo, backpack straps) or the back (backpack, no logo).
Every image adds pose jitter (stride, position, scale, mirror) and noise, so
matching across cameras is learnable but not trivial.
"""
import os
import os.path as osp
import shutil
from typing import Dict, List, Tuple

import cv2
import numpy as np

from dcal_mm.utils.progress import Progress

MARKET_DIR = 'Market-1501-v15.09.15'

_H, _W = 64, 32  # drawing canvas; other sizes are resized from it

# clothing colours, BGR
_PALETTE = np.array([
    (30, 30, 30), (225, 225, 225), (128, 128, 128), (40, 40, 200), (180, 60, 30), (90, 30, 20), (50, 140, 40),
    (40, 200, 220), (30, 120, 230), (130, 40, 120), (40, 70, 110), (180, 140, 240), (150, 190, 210), (200, 180, 40)
], dtype=np.float32)
_SKINS = np.array([(140, 170, 225), (110, 145, 200), (80, 110, 165), (50, 75, 115)], dtype=np.float32)
_HAIRS = np.array([(20, 20, 25), (30, 50, 90), (60, 120, 170), (150, 150, 150)], dtype=np.float32)
_PATTERNS = ('plain', 'hstripe', 'vstripe', 'split', 'logo')
_LOWERS = ('trousers', 'trousers', 'shorts', 'skirt')
_BAGS = ('none', 'none', 'backpack', 'handbag')


def _check_int(name: str, value: int, low: int, high: int = 10**6) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f'{name} must be an int in [{low}, {high}], got {value!r}')


def _colour(rng: np.random.Generator, palette: np.ndarray, spread: float = 18.) -> np.ndarray:
    base = palette[rng.integers(len(palette))]
    return np.clip(base + rng.uniform(-spread, spread, 3), 0, 255).astype(np.float32)


def _identity(rng: np.random.Generator) -> Dict:
    """Appearance attributes of one person."""
    upper = _colour(rng, _PALETTE)
    return dict(
        upper=upper,
        upper2=_colour(rng, _PALETTE),
        pattern=_PATTERNS[rng.integers(len(_PATTERNS))],
        long_sleeves=bool(rng.random() < 0.6),
        lower=_colour(rng, _PALETTE),
        lower_kind=_LOWERS[rng.integers(len(_LOWERS))],
        skin=_colour(rng, _SKINS, 8.),
        hair=_colour(rng, _HAIRS, 8.),
        hat=_colour(rng, _PALETTE) if rng.random() < 0.2 else None,
        shoes=_colour(rng, _PALETTE[:3], 10.),
        bag=_BAGS[rng.integers(len(_BAGS))],
        bag_colour=_colour(rng, _PALETTE),
        bag_side=int(rng.integers(2)),
        height=float(rng.uniform(0.9, 1.04)),
        width=float(rng.uniform(0.88, 1.12)),
    )


def _camera(rng: np.random.Generator) -> Dict:
    """Viewing conditions of one camera."""
    return dict(
        wall=rng.uniform(40, 220, 3).astype(np.float32),
        floor=rng.uniform(30, 200, 3).astype(np.float32),
        horizon=int(rng.integers(34, 52)),
        stripe_period=float(rng.uniform(3, 12)),
        stripe_amp=float(rng.uniform(0, 25)),
        light_slope=float(rng.uniform(-0.35, 0.35)),
        gain=float(rng.uniform(0.65, 1.3)),
        cast=rng.uniform(0.82, 1.18, 3).astype(np.float32),
        gamma=float(rng.uniform(0.8, 1.25)),
        blur=float(rng.choice([0., 0.5, 0.8, 1.1])),
        noise=float(rng.uniform(2, 7)),
        scale=float(rng.uniform(0.88, 1.02)),
        front_prob=float(rng.uniform(0.2, 0.8)),
    )


def _background(rng: np.random.Generator, cam: Dict) -> np.ndarray:
    img = np.empty((_H, _W, 3), dtype=np.float32)
    img[:cam['horizon']] = cam['wall']
    img[cam['horizon']:] = cam['floor']
    xx = np.arange(_W, dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    img[:cam['horizon']] += (cam['stripe_amp'] * np.sin(2 * np.pi * xx / cam['stripe_period'] + phase))[None, :, None]
    if rng.random() < 0.3:  # some clutter
        x0, y0 = int(rng.integers(0, _W - 6)), int(rng.integers(0, _H - 10))
        cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(4, 10)), y0 + int(rng.integers(6, 16))),
                      tuple(map(float, rng.uniform(0, 255, 3))), -1)
    return img


def _draw_person(ident: Dict, front: bool, stride: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw a person upright at the canvas centre; return colour and mask."""
    img = np.zeros((_H, _W, 3), dtype=np.float32)
    mask = np.zeros((_H, _W), dtype=np.float32)

    def fill(poly, colour):
        pts = np.array(poly, dtype=np.int32)
        cv2.fillPoly(img, [pts], tuple(map(float, colour)))
        cv2.fillPoly(mask, [pts], 1.)

    def rect(x0, y0, x1, y1, colour):
        fill([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour)

    skin, upper, lower = ident['skin'], ident['upper'], ident['lower']
    # legs and shoes
    leg_colour = lower if ident['lower_kind'] == 'trousers' else skin
    fill([(10, 36), (15, 36), (14 - stride, 58), (11 - stride, 58)], leg_colour)
    fill([(17, 36), (22, 36), (21 + stride, 58), (18 + stride, 58)], leg_colour)
    rect(10 - stride, 58, 15 - stride, 61, ident['shoes'])
    rect(17 + stride, 58, 22 + stride, 61, ident['shoes'])
    if ident['lower_kind'] == 'shorts':
        fill([(10, 35), (22, 35), (22, 45), (17, 45), (16, 40), (15, 45), (10, 45)], lower)
    elif ident['lower_kind'] == 'skirt':
        fill([(10, 35), (22, 35), (25, 48), (7, 48)], lower)
    else:
        rect(10, 35, 22, 38, lower)
    # arms, torso, neck, head
    sleeve_end = 33 if ident['long_sleeves'] else 21
    for x0, x1 in ((6, 9), (23, 26)):
        rect(x0, 15, x1, 35, skin)
        rect(x0, 15, x1, sleeve_end, upper)
    torso = np.zeros((_H, _W), dtype=np.uint8)
    cv2.fillPoly(torso, [np.array([(9, 14), (23, 14), (22, 35), (10, 35)], dtype=np.int32)], 1)
    img[torso > 0] = upper
    mask[torso > 0] = 1.
    yy, xx = np.mgrid[0:_H, 0:_W]
    second = dict(hstripe=(yy // 3) % 2 == 1, vstripe=(xx // 3) % 2 == 1, split=yy >= 25,
                  logo=(yy >= 19) & (yy <= 24) & (xx >= 13) & (xx <= 19) & front).get(ident['pattern'])
    if second is not None:
        img[(torso > 0) & second] = ident['upper2']
    rect(15, 12, 17, 14, skin)
    cv2.ellipse(img, (16, 8), (4, 5), 0, 0, 360, tuple(map(float, skin)), -1)
    cv2.ellipse(mask, (16, 8), (4, 5), 0, 0, 360, 1., -1)
    if front:
        cv2.ellipse(img, (16, 6), (4, 3), 0, 180, 360, tuple(map(float, ident['hair'])), -1)
    else:
        cv2.ellipse(img, (16, 8), (4, 5), 0, 0, 360, tuple(map(float, ident['hair'])), -1)
    if ident['hat'] is not None:
        rect(11, 2, 21, 5, ident['hat'])
    # accessories
    bag = ident['bag_colour']
    if ident['bag'] == 'backpack':
        if front:
            cv2.line(img, (12, 14), (12, 24), tuple(map(float, bag)), 1)
            cv2.line(img, (20, 14), (20, 24), tuple(map(float, bag)), 1)
        else:
            rect(11, 16, 21, 32, bag)
    elif ident['bag'] == 'handbag':
        x0 = 24 if ident['bag_side'] else 3
        rect(x0, 30, x0 + 5, 39, bag)
    return img, mask


def _render(rng: np.random.Generator, ident: Dict, cam: Dict, crop: bool = False) -> np.ndarray:
    """One image of ``ident`` seen by ``cam``, BGR float32 in [0, 255]."""
    front = bool(rng.random() < cam['front_prob'])
    person, mask = _draw_person(ident, front, int(rng.integers(0, 3)))
    if rng.random() < 0.5:  # walking the other way
        person, mask = person[:, ::-1], mask[:, ::-1]
    s = cam['scale'] * rng.uniform(0.94, 1.05)
    sx, sy = s * ident['width'], s * ident['height']
    tx = _W / 2 * (1 - sx) + rng.uniform(-2.5, 2.5)
    ty = _H * (1 - sy) - rng.uniform(0, 3)  # feet near the bottom
    affine = np.array([[sx, 0, tx], [0, sy, ty]], dtype=np.float32)
    person = cv2.warpAffine(np.ascontiguousarray(person), affine, (_W, _H), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.ascontiguousarray(mask), affine, (_W, _H), flags=cv2.INTER_LINEAR)[..., None]
    img = _background(rng, cam) * (1 - mask) + person * mask
    if crop:  # a badly placed box: part of a person, stretched
        y0, x0 = int(rng.integers(0, _H // 2)), int(rng.integers(0, _W // 3))
        img = cv2.resize(img[y0:y0 + _H // 2, x0:x0 + _W // 2], (_W, _H), interpolation=cv2.INTER_LINEAR)
    light = 1 + cam['light_slope'] * (np.arange(_H, dtype=np.float32) / _H - 0.5)
    img = img * light[:, None, None]
    img = 255. * (np.clip(img, 0, 255) / 255.)**cam['gamma'] * cam['gain'] * rng.uniform(0.92, 1.08) * cam['cast']
    sigma = cam['blur'] + rng.uniform(0, 0.3)
    img = cv2.GaussianBlur(img, (0, 0), sigma) if sigma > 0.3 else img
    img = img + rng.normal(0, cam['noise'], img.shape).astype(np.float32)
    return np.clip(img, 0, 255)


def make_demo_market1501(root: str,
                         num_train_ids: int = 40,
                         num_test_ids: int = 40,
                         num_cams: int = 6,
                         num_distractors: int = 20,
                         num_junk: int = 12,
                         img_shape: Tuple[int, int] = (64, 32),
                         seed: int = 0,
                         overwrite: bool = False,
                         progress: bool = False) -> str:
    """Write the demo person Re-ID dataset in Market-1501's layout.

    The files follow the real release::

        root/Market-1501-v15.09.15/
        ├── bounding_box_train/  {pid}_c{cam}s{seq}_{frame}_{bbox}.jpg
        ├── bounding_box_test/   gallery, plus distractors (pid 0000) and junk (pid -1)
        └── query/               one image per test identity and camera, bbox 00

    e.g. ``0002_c1s1_000451_03.jpg``, so
    :class:`dcal_mm.datasets.Market1501` reads it with ``data_root=root``.
    Train and test identities are disjoint, ids drawn from
    ``1..num_train_ids + num_test_ids``. Every identity is seen by 2-4
    cameras with 2-4 images each. For a test identity, the first image of
    each camera is a query and the rest go to the gallery, so every query has
    a match in another camera. Distractors are unrelated people or fragments;
    junk images are badly cropped fragments of test people, as in Market.

    Generation is deterministic for a given seed (numpy PCG64, no clock) and
    takes about a second with the defaults (about 750 images).

    Args:
        root (str): Output folder; ``Market-1501-v15.09.15`` is made in it.
        num_train_ids (int): Training identities. Defaults to 40.
        num_test_ids (int): Test identities. Defaults to 40.
        num_cams (int): Cameras, 2-6 (Market-1501 has 6). Defaults to 6.
        num_distractors (int): Gallery images with pid ``0000``.
            Defaults to 20.
        num_junk (int): Gallery images with pid ``-1``. Defaults to 12.
        img_shape (tuple[int, int]): ``(height, width)`` of the images.
            Defaults to ``(64, 32)``.
        seed (int): Random seed. Defaults to 0.
        overwrite (bool): Replace an existing ``Market-1501-v15.09.15``
            folder. If False, an existing non-empty one is an error.
            Defaults to False.
        progress (bool): Show an MMEngine progress bar (identities,
            distractors and junk images written). Defaults to False.

    Returns:
        str: The dataset folder ``root/Market-1501-v15.09.15``.
    """
    _check_int('num_train_ids', num_train_ids, 1, 4999)
    _check_int('num_test_ids', num_test_ids, 1, 9999 - num_train_ids)
    _check_int('num_cams', num_cams, 2, 6)
    _check_int('num_distractors', num_distractors, 0)
    _check_int('num_junk', num_junk, 0)
    if len(img_shape) != 2:
        raise ValueError(f'img_shape must be (height, width), got {img_shape!r}')
    for side in img_shape:
        _check_int('img_shape', side, 8, 1024)
    data_root = osp.join(root, MARKET_DIR)
    if osp.isdir(data_root) and os.listdir(data_root):
        if not overwrite:
            raise FileExistsError(f'{data_root} already exists and is not empty; pass overwrite=True to replace it')
        shutil.rmtree(data_root)
    dirs = {name: osp.join(data_root, name) for name in ('bounding_box_train', 'bounding_box_test', 'query')}
    for folder in dirs.values():
        os.makedirs(folder, exist_ok=True)

    rng = np.random.default_rng(seed)
    cams = [_camera(rng) for _ in range(num_cams)]
    seqs = rng.integers(1, 7, size=num_cams)
    frames = rng.integers(0, 500, size=num_cams)
    pids = rng.permutation(np.arange(1, num_train_ids + num_test_ids + 1))
    train_pids, test_pids = np.sort(pids[:num_train_ids]), np.sort(pids[num_train_ids:])
    idents = {int(pid): _identity(rng) for pid in pids}

    def write(folder: str, pid: int, cam: int, bbox: int, img: np.ndarray) -> None:
        frames[cam] += rng.integers(10, 400)
        name = f'{pid:04d}' if pid >= 0 else '-1'
        name += f'_c{cam + 1}s{seqs[cam]}_{frames[cam]:06d}_{bbox:02d}.jpg'
        if tuple(img_shape) != (_H, _W):
            img = cv2.resize(img, (img_shape[1], img_shape[0]), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode('.jpg', np.round(img).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise OSError(f'could not encode {name}')
        with open(osp.join(dirs[folder], name), 'wb') as f:
            f.write(buf.tobytes())

    def sightings() -> List[Tuple[int, int]]:
        """(camera, number of images) of one identity."""
        seen = rng.choice(num_cams, size=int(rng.integers(2, min(4, num_cams) + 1)), replace=False)
        return [(int(cam), int(rng.integers(2, 5))) for cam in sorted(seen)]

    # identities, distractors and junk images: the number of images per identity is drawn as they are written
    bar = Progress(len(train_pids) + len(test_pids) + num_distractors + num_junk, enabled=progress,
                   desc=f'writing {data_root}')
    for pid in train_pids:
        bar.update()
        for cam, count in sightings():
            for i in range(count):
                write('bounding_box_train', int(pid), cam, i + 1, _render(rng, idents[int(pid)], cams[cam]))
    for pid in test_pids:
        bar.update()
        for cam, count in sightings():
            write('query', int(pid), cam, 0, _render(rng, idents[int(pid)], cams[cam]))
            for i in range(1, count):
                write('bounding_box_test', int(pid), cam, i, _render(rng, idents[int(pid)], cams[cam]))
    for _ in range(num_distractors):
        bar.update()
        cam = int(rng.integers(num_cams))
        write('bounding_box_test', 0, cam, 1, _render(rng, _identity(rng), cams[cam], crop=rng.random() < 0.3))
    for _ in range(num_junk):
        bar.update()
        cam = int(rng.integers(num_cams))
        ident = idents[int(test_pids[rng.integers(len(test_pids))])]
        write('bounding_box_test', -1, cam, 1, _render(rng, ident, cams[cam], crop=True))
    return data_root
