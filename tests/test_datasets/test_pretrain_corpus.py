# Copyright (c) OpenMMLab. All rights reserved.
import ast
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmpretrain.datasets import CustomDataset

from dcal_mm.datasets.demo import pretrain_corpus
from dcal_mm.datasets.demo.cub_demo import DEMO_CUB_PATTERNS, MAX_DEMO_CUB_CLASSES, demo_cub_class_names
from dcal_mm.datasets.demo.pretrain_corpus import (HUE_JITTER, MAX_ROTATION, PRETRAIN_SHAPES, PRETRAIN_TEXTURES,
                                                   TEXTURE_SCALES, class_hue, corpus_is_complete, draw_pretrain_image, make_pretrain_corpus,
                                                   pretrain_class, pretrain_class_names, shape_alpha, texture_map)

SMALL = dict(num_classes=6, images_per_class=3, val_per_class=1)


def _files(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


@pytest.fixture(scope='module')
def corpora(tmp_path_factory):
    """Two corpora of seed 0 and one of seed 1, made independently."""
    base = tmp_path_factory.mktemp('corpus')
    roots = {}
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        roots[name] = make_pretrain_corpus(str(base / name), seed=seed, progress=False, **SMALL)
    return roots


def test_same_seed_same_bytes_other_seed_other_images(corpora):
    a, b, c = (_files(corpora[k]) for k in 'abc')
    assert len(a) == 6 * (3 + 1) + 1  # images + corpus.json
    assert a == b
    assert set(a) == set(c)
    images = [k for k in a if k.endswith('.png')]
    assert all(a[k] != c[k] for k in images)


def test_layout_is_read_by_mmpretrain_custom_dataset(corpora):
    root = corpora['a']
    names = pretrain_class_names(6)
    assert sorted(os.listdir(root)) == ['corpus.json', 'train', 'val']
    for split, count in (('train', 3), ('val', 1)):
        assert sorted(os.listdir(osp.join(root, split))) == names
        dataset = CustomDataset(data_root=root, data_prefix=split)
        assert list(dataset.CLASSES) == names
        assert len(dataset) == 6 * count
        labels = dataset.get_gt_labels()
        assert np.bincount(labels).tolist() == [count] * 6
        for i in range(len(dataset)):  # folder order is label order
            info = dataset.get_data_info(i)
            assert osp.basename(osp.dirname(info['img_path'])) == names[labels[i]]
    img = cv2.imread(osp.join(root, 'train', names[0], '0000.png'), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8


def test_complete_corpus_is_kept_and_another_is_not_overwritten_silently(tmp_path):
    root = str(tmp_path / 'corpus')
    make_pretrain_corpus(root, seed=0, progress=False, **SMALL)
    assert corpus_is_complete(root, seed=0, **SMALL)
    assert not corpus_is_complete(root, seed=1, **SMALL)
    png = osp.join(root, 'train', pretrain_class_names(1)[0], '0000.png')
    mtime = os.stat(png).st_mtime_ns
    make_pretrain_corpus(root, seed=0, progress=False, **SMALL)  # complete: nothing rewritten
    assert os.stat(png).st_mtime_ns == mtime
    with pytest.raises(FileExistsError, match='overwrite=True'):
        make_pretrain_corpus(root, seed=1, progress=False, **SMALL)
    os.remove(png)  # a cut-short corpus is not complete
    assert not corpus_is_complete(root, seed=0, **SMALL)
    (tmp_path / 'corpus' / 'keep.txt').write_text('not ours')
    make_pretrain_corpus(root, seed=1, overwrite=True, progress=False, **SMALL)
    assert corpus_is_complete(root, seed=1, **SMALL)
    assert (tmp_path / 'corpus' / 'keep.txt').read_text() == 'not ours'  # only what it made is replaced


def test_arguments_are_checked():
    with pytest.raises(ValueError, match='num_classes must be an int in \\[1, 128\\], got 129'):
        pretrain_class_names(129)
    with pytest.raises(ValueError, match='images_per_class'):
        make_pretrain_corpus('unused', images_per_class=0)


def test_128_classes_are_every_shape_texture_pair():
    assert len(PRETRAIN_SHAPES) == 16 and len(PRETRAIN_TEXTURES) == 8
    pairs = [pretrain_class(k) for k in range(128)]
    assert len(set(pairs)) == 128
    names = pretrain_class_names()
    assert len(names) == 128 and names == sorted(names)
    assert names[0] == '001.disc_solid'
    # any prefix mixes shapes and textures: the first 16 classes are the 16 shapes, with all 8 textures
    assert {s for s, _ in pairs[:16]} == set(PRETRAIN_SHAPES)
    assert {t for _, t in pairs[:16]} == set(PRETRAIN_TEXTURES)


def test_solid_objects_wear_their_class_hue():
    """Colour is part of the class: a solid object's pixels have its class hue (so the backbone learns colour,
    which Re-ID needs), and classes next to each other differ in hue."""
    rng = np.random.default_rng(0)
    solid = [k for k in range(128) if pretrain_class(k)[1] == 'solid']
    assert len({class_hue(k) for k in solid}) >= 8
    for label in solid[:8]:
        for _ in range(3):
            img, alpha = draw_pretrain_image(rng, label, return_alpha=True)
            inside = alpha > 0.99
            hue = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[..., 0][inside].astype(np.float32) * 2  # degrees
            gap = np.abs((np.median(hue) - class_hue(label) + 180) % 360 - 180)
            assert gap <= HUE_JITTER + 8, (label, float(np.median(hue)), class_hue(label))
    assert class_hue(0) != class_hue(1)


def _iou(a, b):
    return float(np.minimum(a, b).sum() / np.maximum(a, b).sum())


def test_shapes_stay_apart_under_the_drawn_rotations_and_flips():
    """Every shape, turned by the largest angle, is still nearest to its own upright form, mirrored or not (a
    square turned too far would be a diamond)."""
    size, centre, radius = (96, 96), (48., 48.), 30.
    upright = {s: [shape_alpha(s, size, centre, radius, mirror=m) for m in (False, True)] for s in PRETRAIN_SHAPES}
    for shape in PRETRAIN_SHAPES:
        for angle, mirror in ((-MAX_ROTATION, False), (MAX_ROTATION, False), (MAX_ROTATION, True)):
            posed = shape_alpha(shape, size, centre, radius, angle, mirror)
            ious = {other: max(_iou(posed, mask) for mask in masks) for other, masks in upright.items()}
            assert max(ious, key=ious.get) == shape, (shape, angle, sorted(ious.items(), key=lambda kv: -kv[1])[:2])
    # the fine-detail pair: the keyhole differs from the disc in a few percent of the area only
    assert 0.9 < _iou(upright['keyhole'][0], upright['disc'][0]) < 0.97


def test_each_texture_has_its_property():
    size, centre = (64, 64), (30.5, 33.5)
    for seed in range(5):
        tex = {t: texture_map(t, size, centre, np.random.default_rng(seed)) for t in PRETRAIN_TEXTURES}
        assert all(m.shape == size and m.min() >= 0 and m.max() <= 1 for m in tex.values())
        assert np.all(tex['solid'] == 0)
        dx = {t: np.abs(np.diff(m, axis=1)).mean() for t, m in tex.items()}
        dy = {t: np.abs(np.diff(m, axis=0)).mean() for t, m in tex.items()}
        assert dx['hstripes'] == 0 and dy['hstripes'] > 0.1
        assert dy['vstripes'] == 0 and dx['vstripes'] > 0.1
        d = tex['dstripes']  # constant along one diagonal, not along the axes
        assert min(np.abs(d[1:, 1:] - d[:-1, :-1]).max(), np.abs(d[1:, :-1] - d[:-1, 1:]).max()) < 1e-4
        assert dx['dstripes'] > 0.1 and dy['dstripes'] > 0.1
        r = tex['rings']  # depends on the distance to the centre only: symmetric about it
        assert np.allclose(r[:, 10:52], r[:, 10:52][:, ::-1], atol=1e-4)
        assert 0.3 < r.mean() < 0.7
        for name in ('checker', 'speckle'):
            assert 0.35 < tex[name].mean() < 0.65, name
        assert 0.05 < tex['dots'].mean() < 0.35  # small dots on the first colour
        # checker: periodic in both axes; speckle: random cells of 2 pixels, not periodic
        c, s = tex['checker'], tex['speckle']
        assert any(np.abs(c[:, p:] - c[:, :-p]).mean() < 0.02 for p in (8, 10))
        assert np.all(s[::2, ::2] == s[1::2, 1::2])
        assert all(np.abs(s[:, p:] - s[:, :-p]).mean() > 0.3 for p in (8, 10))


def _within_line_variance(img, inside, axis):
    """Mean colour variance (summed over channels) among the object's pixels of each row (axis=1) or column."""
    total, count = 0., 0
    for i in range(img.shape[1 - axis]):
        line = img[i] if axis == 1 else img[:, i]
        keep = inside[i] if axis == 1 else inside[:, i]
        if keep.sum() >= 3:
            total += line[keep].var(axis=0).sum() * keep.sum()
            count += keep.sum()
    return total / count


@pytest.mark.parametrize('texture', ['solid', 'hstripes', 'vstripes'])
def test_drawn_objects_show_their_texture(texture):
    """On whole images (background, clutter, colours, grain): the object's inside carries the class texture.
    Horizontal stripes: a row has one colour (grain aside), a column two; vertical stripes the reverse."""
    labels = [k for k in range(128) if pretrain_class(k)[1] == texture][:4]
    grain = 3 * 8**2 * 1.5  # the largest grain's variance summed over channels, with slack
    for label in labels:
        for i in range(3):
            img, alpha = draw_pretrain_image(np.random.default_rng([7, label, i]), label, return_alpha=True)
            # fully covered pixels away from the (anti-aliased) edge
            inside = cv2.erode((alpha > 0.99).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            assert inside.sum() > 50, (label, i)
            img = img.astype(np.float32)
            rows, cols = _within_line_variance(img, inside, 1), _within_line_variance(img, inside, 0)
            if texture == 'solid':
                assert rows < grain and cols < grain, (label, i, rows, cols)
            elif texture == 'hstripes':
                assert rows < grain < 4 * grain < cols, (label, i, rows, cols)
            else:
                assert cols < grain < 4 * grain < rows, (label, i, rows, cols)


def test_disjoint_from_the_demo_sets_by_construction():
    names = pretrain_class_names()
    words = {w.lower() for n in names for w in n.split('.', 1)[1].split('_')}
    assert words == set(PRETRAIN_SHAPES) | set(PRETRAIN_TEXTURES)
    assert not words & {'bird', 'crown', 'person', 'pedestrian', 'people', 'body', 'head'}
    demo_stems = {n.split('.', 1)[1].lower() for n in demo_cub_class_names(MAX_DEMO_CUB_CLASSES)}
    assert not {n.split('.', 1)[1] for n in names} & demo_stems
    # no generator of the demo sets is used (no birds, markers or people drawn)
    tree = ast.parse(open(pretrain_corpus.__file__).read())
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {node.module or '' for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {'json', 'os', 'os.path', 'shutil', 'typing', 'cv2', 'numpy', 'dcal_mm.utils.progress'}
    # the FGVC demo's classes are 4x4 markers of 3-pixel blocks: no texture has 3-pixel blocks or stripes
    block = 3
    assert all(len(rows) == 4 for _, rows in DEMO_CUB_PATTERNS)
    assert block not in TEXTURE_SCALES['checker'] + TEXTURE_SCALES['speckle']
    assert all(period / 2 != block for period in TEXTURE_SCALES['stripes'] + TEXTURE_SCALES['rings'])
