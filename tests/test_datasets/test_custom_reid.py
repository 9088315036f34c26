# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp

import pytest
from mmpretrain.registry import DATASETS

import dcal_mm  # noqa: F401

PATTERN = r'(?P<pid>-?\d+)_cam(?P<cam>\d+)_\d+\.png'


def _write(root, subset, names):
    os.makedirs(osp.join(root, subset), exist_ok=True)
    for name in names:
        with open(osp.join(root, subset, name), 'wb') as f:  # only names matter here
            f.write(b'')


@pytest.fixture
def layout(tmp_path):
    root = str(tmp_path)
    _write(root, 'train', ['7_cam1_0.png', '7_cam2_1.png', '3_cam1_2.png', '-1_cam1_3.png', 'notes.txt'])
    _write(root, 'probe', ['7_cam3_0.png'])
    _write(root, 'gallery', ['7_cam1_9.png', '0_cam2_1.png', '-1_cam3_2.png'])
    return root


def test_folders_with_a_filename_pattern(layout):
    dirs = dict(train='train', query='probe', gallery='gallery')
    train = DATASETS.build(dict(type='CustomReIDDataset', data_root=layout, filename_pattern=PATTERN,
                                subset_dirs=dirs))
    assert [(osp.basename(d['img_path']), d['gt_label'], d['cam_id']) for d in train] == [
        ('3_cam1_2.png', 0, 0), ('7_cam1_0.png', 1, 0), ('7_cam2_1.png', 1, 1)]  # junk (-1) dropped, ids relabelled
    assert train.metainfo['num_ids'] == 2
    test = DATASETS.build(dict(type='CustomReIDDataset', data_root=layout, split='test', filename_pattern=PATTERN,
                               subset_dirs=dirs))
    got = [(d['gt_label'], d['cam_id'], d['is_query']) for d in test]
    assert got == [(7, 2, True), (0, 1, False), (7, 0, False)]


def test_list_files(layout):
    with open(osp.join(layout, 'query.txt'), 'w') as f:
        f.write('probe/7_cam3_0.png 7 3\n')
    with open(osp.join(layout, 'gallery.txt'), 'w') as f:
        f.write('gallery/7_cam1_9.png 7 1\ngallery/-1_cam3_2.png -1 3\n\n')
    test = DATASETS.build(dict(type='CustomReIDDataset', data_root=layout, split='test',
                               ann_files=dict(query='query.txt', gallery='gallery.txt')))
    assert [(osp.relpath(d['img_path'], layout), d['gt_label'], d['cam_id']) for d in test] == [
        ('probe/7_cam3_0.png', 7, 2), ('gallery/7_cam1_9.png', 7, 0)]


def test_errors_name_the_problem(layout):
    with pytest.raises(ValueError, match=r"lacks the named group\(s\) \['cam'\]"):
        DATASETS.build(dict(type='CustomReIDDataset', data_root=layout, filename_pattern=r'(?P<pid>\d+)_.*'))
    with pytest.raises(ValueError, match='train subset has no list file'):
        DATASETS.build(dict(type='CustomReIDDataset', data_root=layout))
    with pytest.raises(ValueError, match=r'notes_cam1_x.png does not match filename_pattern'):
        _write(layout, 'train', ['notes_cam1_x.png'])
        DATASETS.build(dict(type='CustomReIDDataset', data_root=layout, filename_pattern=PATTERN,
                            subset_dirs=dict(train='train')))
    with open(osp.join(layout, 'bad.txt'), 'w') as f:
        f.write('a.png 7\n')
    with pytest.raises(ValueError, match=r'bad.txt:1 must be "path pid cam"'):
        DATASETS.build(dict(type='CustomReIDDataset', data_root=layout, ann_files=dict(train='bad.txt')))
    with pytest.raises(ValueError, match=r"subset_dirs keys must be in \('train', 'query', 'gallery'\), got \['val'\]"):
        DATASETS.build(dict(type='CustomReIDDataset', data_root=layout, filename_pattern=PATTERN,
                            subset_dirs=dict(val='x')))
