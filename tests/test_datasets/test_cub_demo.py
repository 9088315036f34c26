# Copyright (c) OpenMMLab. All rights reserved.
import importlib.util
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmpretrain.datasets import CUB

from dcal_mm.datasets.demo import demo_cub_class_names, demo_cub_pattern, make_demo_cub
from dcal_mm.datasets.demo.cub_demo import MAX_DEMO_CUB_CLASSES

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BLOCK = 3  # pattern block side at 64x64
TXT_FILES = ('images.txt', 'image_class_labels.txt', 'train_test_split.txt', 'classes.txt', 'bounding_boxes.txt',
             'parts/parts.txt', 'parts/part_locs.txt')


def _read(data_root, name):
    with open(osp.join(data_root, name)) as f:
        return [line.split() for line in f.read().splitlines()]


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """10 classes x (20 train + 10 test) at 64x64."""
    return make_demo_cub(str(tmp_path_factory.mktemp('cub')), num_classes=10, train_per_class=20, test_per_class=10)


def _load(data_root):
    """images (N, 64, 64, 3) BGR, 0-based labels, is_train, crown (x, y) per image."""
    images = _read(data_root, 'images.txt')
    labels = np.array([int(c) - 1 for _, c in _read(data_root, 'image_class_labels.txt')])
    is_train = np.array([s == '1' for _, s in _read(data_root, 'train_test_split.txt')])
    crowns = {int(i): (float(x), float(y)) for i, p, x, y, v in _read(data_root, 'parts/part_locs.txt') if p == '5'}
    imgs = np.stack([cv2.imread(osp.join(data_root, 'images', p)) for _, p in images])
    return imgs, labels, is_train, [crowns[i + 1] for i in range(len(images))]


def test_layout_matches_cub(demo):
    assert osp.basename(demo) == 'CUB_200_2011'
    for name in TXT_FILES:
        assert osp.isfile(osp.join(demo, name)), name
    names = demo_cub_class_names(10)
    assert _read(demo, 'classes.txt') == [[str(i + 1), n] for i, n in enumerate(names)]
    assert sorted(os.listdir(osp.join(demo, 'images'))) == names

    images = _read(demo, 'images.txt')
    assert [int(i) for i, _ in images] == list(range(1, 301))  # 1-based, consecutive
    labels = _read(demo, 'image_class_labels.txt')
    splits = _read(demo, 'train_test_split.txt')
    assert [i for i, _ in labels] == [i for i, _ in splits] == [i for i, _ in images]
    for (_, path), (_, label) in zip(images, labels):
        assert path.split('/')[0] == names[int(label) - 1]
        img = cv2.imread(osp.join(demo, 'images', path))
        assert img is not None and img.shape == (64, 64, 3), path
    for c in range(1, 11):
        split = [s for (_, lab), (_, s) in zip(labels, splits) if lab == str(c)]
        assert split.count('1') == 20 and split.count('0') == 10

    boxes = np.array([[float(v) for v in row[1:]] for row in _read(demo, 'bounding_boxes.txt')])
    assert boxes.shape == (300, 4)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, :2] + boxes[:, 2:] <= 64).all() and (boxes[:, 2:] > 10).all()
    assert len(_read(demo, 'parts/parts.txt')) == 15
    assert len(_read(demo, 'parts/part_locs.txt')) == 300 * 15


def test_mmpretrain_cub_reads_it(demo):
    train, test = CUB(data_root=demo, split='train'), CUB(data_root=demo, split='test')
    assert len(train) == 200 and len(test) == 100
    assert np.bincount(train.get_gt_labels(), minlength=10).tolist() == [20] * 10
    assert np.bincount(test.get_gt_labels(), minlength=10).tolist() == [10] * 10
    info = test.get_data_info(0)
    assert osp.isfile(info['img_path'])
    assert osp.basename(osp.dirname(info['img_path'])) == demo_cub_class_names(10)[info['gt_label']]
    assert not {train.get_data_info(i)['img_path'] for i in range(len(train))} & {
        test.get_data_info(i)['img_path'] for i in range(len(test))}


def test_patterns():
    patterns = [demo_cub_pattern(c) for c in range(MAX_DEMO_CUB_CLASSES)]
    assert len({p.tobytes() for p in patterns}) == MAX_DEMO_CUB_CLASSES
    for p in patterns:
        assert p.shape == (4, 4) and p.sum() == 8  # same black/white area in every class
        np.testing.assert_array_equal(p, p[:, ::-1])  # a horizontal flip keeps the label
    with pytest.raises(ValueError, match='label'):
        demo_cub_pattern(MAX_DEMO_CUB_CLASSES)


def test_class_is_the_crown_marker_only(demo):
    imgs, labels, is_train, crowns = _load(demo)
    gray = imgs.mean(-1)
    markers = []
    for img, (x, y) in zip(gray, crowns):
        x0, y0 = int(round(x - 2 * BLOCK)), int(round(y - 2 * BLOCK))
        crop = img[y0:y0 + 4 * BLOCK, x0:x0 + 4 * BLOCK]
        markers.append(crop.reshape(4, BLOCK, 4, BLOCK).mean((1, 3)))
    markers = np.stack(markers)
    # the marker at the crown location is the class pattern, black on white
    for marker, label in zip(markers, labels):
        np.testing.assert_array_equal(marker < 128, demo_cub_pattern(label).astype(bool))

    def nearest_centroid_accuracy(features):
        centroids = np.stack([features[is_train & (labels == c)].mean(0) for c in range(10)])
        test = features[~is_train]
        pred = np.argmin(((test[:, None] - centroids[None]) ** 2).sum(-1), 1)
        return (pred == labels[~is_train]).mean()

    # the marker alone decides the class ...
    assert nearest_centroid_accuracy(markers.reshape(len(markers), -1)) == 1.0
    # ... while global colour (mean and histogram) is near chance (0.1)
    mean_colour = imgs.reshape(len(imgs), -1, 3).mean(1)
    hist = np.stack([
        np.concatenate([np.bincount(img[..., ch].ravel() // 32, minlength=8) for ch in range(3)]) for img in imgs
    ]) / (64 * 64)
    assert nearest_centroid_accuracy(mean_colour) < 0.25
    assert nearest_centroid_accuracy(hist) < 0.25
    # and the rest of the image varies: pixels off the marker differ between images of one class
    assert gray[labels == 0].std(0).mean() > 20


def test_deterministic(tmp_path):
    a = make_demo_cub(str(tmp_path / 'a'), num_classes=3, train_per_class=2, test_per_class=1, seed=5)
    b = make_demo_cub(str(tmp_path / 'b'), num_classes=3, train_per_class=2, test_per_class=1, seed=5)
    c = make_demo_cub(str(tmp_path / 'c'), num_classes=3, train_per_class=2, test_per_class=1, seed=6)
    files = TXT_FILES + tuple(osp.join('images', p) for _, p in _read(a, 'images.txt'))
    for name in files:
        with open(osp.join(a, name), 'rb') as fa, open(osp.join(b, name), 'rb') as fb:
            assert fa.read() == fb.read(), name
    _, p = _read(a, 'images.txt')[0]
    assert not np.array_equal(cv2.imread(osp.join(a, 'images', p)), cv2.imread(osp.join(c, 'images', p)))


@pytest.mark.parametrize('img_size', [48, 96])
def test_other_sizes(tmp_path, img_size):
    root = make_demo_cub(str(tmp_path), num_classes=16, train_per_class=1, test_per_class=1, img_size=img_size)
    _, path = _read(root, 'images.txt')[-1]
    assert cv2.imread(osp.join(root, 'images', path)).shape == (img_size, img_size, 3)
    assert len(CUB(data_root=root, split='test')) == 16


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_classes must be at most 16'):
        make_demo_cub(str(tmp_path), num_classes=17)
    with pytest.raises(ValueError, match='img_size'):
        make_demo_cub(str(tmp_path), img_size=32)
    with pytest.raises(ValueError, match='train_per_class'):
        make_demo_cub(str(tmp_path), train_per_class=0)
    root = make_demo_cub(str(tmp_path), num_classes=2, train_per_class=1, test_per_class=1)
    with pytest.raises(FileExistsError, match='CUB_200_2011'):
        make_demo_cub(str(tmp_path), num_classes=2, train_per_class=1, test_per_class=1)
    make_demo_cub(str(tmp_path), num_classes=1, train_per_class=1, test_per_class=1, overwrite=True)
    assert os.listdir(osp.join(root, 'images')) == ['001.Bar_Crown']  # nothing stale left


def test_make_demo_data_cli(tmp_path):
    spec = importlib.util.spec_from_file_location('make_demo_data', osp.join(REPO_ROOT, 'tools', 'misc',
                                                                             'make_demo_data.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    cli.main(['--root', str(tmp_path / 'fgvc'), '--fgvc'])
    assert os.listdir(tmp_path / 'fgvc') == ['CUB_200_2011']
    assert len(CUB(data_root=str(tmp_path / 'fgvc' / 'CUB_200_2011'), split='train')) == 600
    cli.main(['--root', str(tmp_path / 'both')])
    assert sorted(os.listdir(tmp_path / 'both')) == ['CUB_200_2011', 'Market-1501-v15.09.15']
    with pytest.raises(FileExistsError):
        cli.main(['--root', str(tmp_path / 'both'), '--fgvc'])
    cli.main(['--root', str(tmp_path / 'both'), '--fgvc', '--overwrite'])
