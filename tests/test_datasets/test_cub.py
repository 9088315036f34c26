# Copyright (c) OpenMMLab. All rights reserved.
"""CUB's class names come from the data's own classes.txt."""
import os.path as osp
import shutil

import pytest
from mmpretrain.datasets.categories import CUB_CATEGORIES
from mmpretrain.registry import DATASETS

from dcal_mm.datasets import make_demo_cub
from dcal_mm.datasets.demo import demo_cub_class_names


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_demo_cub(str(tmp_path_factory.mktemp('cub')), num_classes=4, train_per_class=1, test_per_class=1)


def test_names_from_classes_txt(root, tmp_path):
    expected = tuple(name.split('.', 1)[1] for name in demo_cub_class_names(4))  # '003.Cross_Crown' -> 'Cross_Crown'
    for split in ('train', 'test'):
        assert DATASETS.build(dict(type='CUB', data_root=root, split=split)).metainfo['classes'] == expected
    # explicit names win; without classes.txt MMPretrain's 200 species (the official archive has the file)
    assert DATASETS.build(dict(type='CUB', data_root=root, classes=['a', 'b', 'c', 'd'])).CLASSES == ('a', 'b', 'c', 'd')
    bare = shutil.copytree(root, str(tmp_path / 'bare'))
    os_remove = osp.join(bare, 'classes.txt')
    shutil.move(os_remove, os_remove + '.bak')
    assert DATASETS.build(dict(type='CUB', data_root=bare)).CLASSES == tuple(CUB_CATEGORIES)


def test_bad_classes_txt_is_named(root, tmp_path):
    broken = shutil.copytree(root, str(tmp_path / 'broken'))
    path = osp.join(broken, 'classes.txt')
    lines = open(path).read().splitlines()
    open(path, 'w').write('\n'.join(lines[:2]) + '\n')  # 2 names for labels 1..4
    with pytest.raises(ValueError, match=r'image_class_labels.txt: class id 3 .* has no name in .*classes.txt, which '
                       r'lists 2 classes'):
        DATASETS.build(dict(type='CUB', data_root=broken)).full_init()
    open(path, 'w').write('1 001.A\n3 003.C\n')
    with pytest.raises(ValueError, match='classes.txt: class ids must be 1..N without gaps'):
        DATASETS.build(dict(type='CUB', data_root=broken))
