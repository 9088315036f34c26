# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose

from dcal_mm.datasets import make_demo_market1501

CONFIG = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs/dcal/demo_reid.py')


def test_browse_dataset_draws_the_transformed_samples(run_tool, tmp_path, capsys):
    root = str(tmp_path / 'data')
    make_demo_market1501(root, num_train_ids=4, num_test_ids=2, num_distractors=0, num_junk=0)
    cfg = Config.fromfile(CONFIG)
    wrapped = 'dataset' in cfg.train_dataloader.dataset  # a pair wrapper around the train set
    train_key = 'train_dataloader.dataset.dataset.data_root' if wrapped else 'train_dataloader.dataset.data_root'
    run_tool(['tools/visualization/browse_dataset.py', CONFIG, '-o', str(tmp_path / 'b'), '-n', '2', '--scale',
              '1', '--cfg-options', f'{train_key}={root}'])
    picture = cv2.imread(str(tmp_path / 'b' / 'train_00000.png'))
    assert 'label 0, cam_id' in capsys.readouterr().out
    assert (picture[:64, :32] != 255).any()
    # the partner of a pair sample is drawn right of the target (2 px gap)
    assert (picture[:64, 34:66] != 255).any() == wrapped

    run_tool(['tools/visualization/browse_dataset.py', CONFIG, '-o', str(tmp_path / 'b'), '-n', '1', '--phase',
              'test', '--scale', '1', '--cfg-options', f'test_dataloader.dataset.data_root={root}'])
    query = sorted(os.listdir(osp.join(root, 'Market-1501-v15.09.15', 'query')))[0]
    packed = Compose(cfg.test_dataloader.dataset.pipeline)(
        dict(img_path=osp.join(root, 'Market-1501-v15.09.15', 'query', query)))
    view = packed['inputs'].permute(1, 2, 0).numpy().astype(np.uint8)
    assert np.array_equal(cv2.imread(str(tmp_path / 'b' / 'test_00000.png'))[:64, :32], view)
    assert 'is_query 1' in capsys.readouterr().out
