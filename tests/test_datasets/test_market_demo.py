# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.utils import register_all_modules

import dcal_mm  # noqa: F401
from dcal_mm.datasets import Market1501, make_demo_market1501

register_all_modules()

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets')
SUBSETS = ('bounding_box_train', 'query', 'bounding_box_test')


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    """The default demo set, generated once for the module."""
    root = str(tmp_path_factory.mktemp('demo'))
    assert make_demo_market1501(root) == osp.join(root, 'Market-1501-v15.09.15')
    return root


def read_tree(folder):
    return {(sub, name): open(osp.join(folder, sub, name), 'rb').read()
            for sub in SUBSETS for name in os.listdir(osp.join(folder, sub))}


def test_deterministic(tmp_path):
    kwargs = dict(num_train_ids=5, num_test_ids=4, num_distractors=3, num_junk=2)
    a = read_tree(make_demo_market1501(str(tmp_path / 'a'), seed=3, **kwargs))
    b = read_tree(make_demo_market1501(str(tmp_path / 'b'), seed=3, **kwargs))
    assert a == b and len(a) > 30
    c = read_tree(make_demo_market1501(str(tmp_path / 'c'), seed=4, **kwargs))
    assert set(a) != set(c)


def test_existing_folder(tmp_path):
    kwargs = dict(num_train_ids=2, num_test_ids=2, num_distractors=0, num_junk=0)
    folder = make_demo_market1501(str(tmp_path), seed=0, **kwargs)
    with pytest.raises(FileExistsError, match='Market-1501-v15.09.15 already exists'):
        make_demo_market1501(str(tmp_path), seed=0, **kwargs)
    first = read_tree(folder)
    make_demo_market1501(str(tmp_path), seed=1, overwrite=True, **kwargs)
    assert set(read_tree(folder)) != set(first)  # replaced, not merged
    with pytest.raises(ValueError, match='num_cams must be an int in'):
        make_demo_market1501(str(tmp_path / 'x'), num_cams=7)


def test_layout_and_names(demo_root):
    folder = osp.join(demo_root, 'Market-1501-v15.09.15')
    names = {sub: sorted(os.listdir(osp.join(folder, sub))) for sub in SUBSETS}
    pattern = Market1501.FILENAME_PATTERN
    pids = {}
    for sub, files in names.items():
        for name in files:
            assert pattern.fullmatch(name), name
        pids[sub] = {name.split('_')[0] for name in files}
    assert len(pids['bounding_box_train']) == 40
    assert {'0000', '-1'} <= pids['bounding_box_test']
    assert pids['query'] == pids['bounding_box_test'] - {'0000', '-1'}
    assert len(pids['query']) == 40
    assert not pids['bounding_box_train'] & pids['query']
    assert all(name.endswith('_00.jpg') for name in names['query'])
    assert sum(name.startswith('0000_') for name in names['bounding_box_test']) == 20
    assert sum(name.startswith('-1_') for name in names['bounding_box_test']) == 12
    assert {name.split('_')[1][1] for name in names['bounding_box_train']} == set('123456')
    img = cv2.imread(osp.join(folder, 'query', names['query'][0]))
    assert img.shape == (64, 32, 3)


def test_parses_with_market1501(demo_root):
    folder = osp.join(demo_root, 'Market-1501-v15.09.15')
    listing = {sub: os.listdir(osp.join(folder, sub)) for sub in SUBSETS}
    train = Market1501(data_root=demo_root, split='train', serialize_data=False)
    assert len(train) == len(listing['bounding_box_train'])
    assert train.metainfo['num_ids'] == 40
    assert sorted(set(train.get_gt_labels().tolist())) == list(range(40))
    test = Market1501(data_root=demo_root, split='test', serialize_data=False)
    num_junk = sum(n.startswith('-1_') for n in listing['bounding_box_test'])
    assert test.metainfo['num_query'] == len(listing['query'])
    assert test.metainfo['num_gallery'] == len(listing['bounding_box_test']) - num_junk
    infos = [test.get_data_info(i) for i in range(len(test))]
    is_query = np.array([i['is_query'] for i in infos])
    pid = np.array([i['gt_label'] for i in infos])
    cam = np.array([i['cam_id'] for i in infos])
    num_query = test.metainfo['num_query']
    assert is_query[:num_query].all() and not is_query[num_query:].any()
    assert (pid[~is_query] == 0).sum() == 20 and (pid >= 0).all()
    assert set(cam.tolist()) <= set(range(6))
    # every query has a gallery image of its identity from another camera
    for q in np.flatnonzero(is_query):
        assert ((pid[~is_query] == pid[q]) & (cam[~is_query] != cam[q])).any()
    # the demo config's num_ids matches the data
    assert Config.fromfile(osp.join(CONFIG_DIR, 'demo_market.py')).num_ids == train.metainfo['num_ids']


def rank1(features, pid, cam, is_query):
    """Rank-1 with the Market protocol (same id and same camera removed)."""
    q, g = np.flatnonzero(is_query), np.flatnonzero(~is_query)
    dist = ((features[q, None] - features[None, g])**2).sum(-1)
    hits = []
    for row, i in zip(dist, q):
        valid = ~((pid[g] == pid[i]) & (cam[g] == cam[i]))
        hits.append(pid[g][valid][np.argmin(row[valid])] == pid[i])
    return float(np.mean(hits))


def test_identity_is_in_the_clothes_not_the_camera(demo_root):
    test = Market1501(data_root=demo_root, split='test', serialize_data=False)
    infos = [test.get_data_info(i) for i in range(len(test))]
    imgs = np.stack([cv2.imread(i['img_path']) for i in infos])
    pid = np.array([i['gt_label'] for i in infos])
    cam = np.array([i['cam_id'] for i in infos])
    is_query = np.array([i['is_query'] for i in infos])
    lab = np.stack([cv2.cvtColor(img, cv2.COLOR_BGR2LAB) for img in imgs]).astype(np.float32)
    # colour of the whole image: dominated by each camera's background and light
    whole = lab.reshape(len(lab), -1, 3).mean(1)
    # chroma of the upper and lower clothes at the image centre
    clothes = np.concatenate([lab[:, 16:34, 10:22, 1:].mean((1, 2)), lab[:, 38:56, 10:22, 1:].mean((1, 2))], 1)
    chance = 1 / 40
    assert rank1(clothes, pid, cam, is_query) > 5 * chance
    assert rank1(whole, pid, cam, is_query) < rank1(clothes, pid, cam, is_query) / 2


def test_demo_config_dataloaders(demo_root):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'demo_market.py'))
    train_cfg = cfg.train_dataloader.to_dict()
    train_cfg['dataset'].update(data_root=demo_root, serialize_data=False)
    train_cfg['num_workers'] = 0
    loader = Runner.build_dataloader(train_cfg, seed=0)
    batch = next(iter(loader))
    assert len(batch['inputs']) == 32 and batch['inputs'][0].shape == (3, 64, 32)
    labels = [int(s.gt_label) for s in batch['data_samples']]
    assert len(set(labels)) == 8 and all(labels.count(label) == 4 for label in labels)
    assert all(isinstance(s.cam_id, int) for s in batch['data_samples'])

    val_cfg = cfg.val_dataloader.to_dict()
    val_cfg['dataset'].update(data_root=demo_root, serialize_data=False)
    loader = Runner.build_dataloader(val_cfg, seed=0)
    samples = next(iter(loader))['data_samples']
    assert samples[0].is_query is True and samples[-1].is_query in (True, False)
    assert 0 <= samples[0].cam_id < 6
