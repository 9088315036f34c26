# Copyright (c) OpenMMLab. All rights reserved.
"""No silent wrong results through tools/train.py and tools/test.py: another
model's checkpoint, a head for another number of classes, an unreadable image
and a data root given on the command line."""
import glob
import importlib.util
import os.path as osp
import shutil
import sys

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from dcal_mm.datasets.demo import make_demo_cub
from dcal_mm.utils import CheckpointMismatchError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/dcal/demo_fgvc.py'
OPTS = ['train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'] + [
    f'{split}_dataloader.num_workers=0' for split in ('train', 'val', 'test')
]


@pytest.fixture(scope='module')
def cub_root(tmp_path_factory):
    return make_demo_cub(str(tmp_path_factory.mktemp('checks') / 'data'), num_classes=10, train_per_class=1,
                         test_per_class=1)


def _checkpoint(path, num_classes):
    """A checkpoint of the demo model with ``num_classes`` outputs, as tools/train.py saves them."""
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    cfg.model.head.num_classes = num_classes
    torch.save({'meta': {}, 'state_dict': MODELS.build(cfg.model).state_dict()}, path)
    return path


def _logs(tmp_path):
    """All run logs under tmp_path (runs started in the same second share MMEngine's logger and its file)."""
    return ''.join(open(f).read() for f in glob.glob(osp.join(str(tmp_path), '*', '*', '*.log')))


def test_test_py_refuses_another_models_checkpoint(run_tool, cub_root, tmp_path):
    other = _checkpoint(str(tmp_path / 'other.pth'), 7)
    expected = r'other\.pth does not match the model \w+: 0 missing, 0 unexpected, [1-9]\d* mis-shaped'
    with pytest.raises(CheckpointMismatchError, match=expected):
        run_tool(['tools/test.py', CONFIG, other, '--data-root', cub_root, '--work-dir', str(tmp_path / 'a'),
                  '--cfg-options', *OPTS])
    # asked for: loads what fits, says what it did
    run_tool(['tools/test.py', CONFIG, other, '--data-root', cub_root, '--work-dir', str(tmp_path / 'b'),
              '--allow-partial-load', '--cfg-options', *OPTS])
    assert f'checkpoint {other}: partial load (allowed) of' in _logs(tmp_path)
    same = _checkpoint(str(tmp_path / 'same.pth'), 10)
    run_tool(['tools/test.py', CONFIG, same, '--data-root', cub_root, '--work-dir', str(tmp_path / 'c'),
              '--cfg-options', *OPTS])
    assert f'checkpoint {same}: loaded all' in _logs(tmp_path)


def test_train_py_refuses_mismatched_load_from_and_head(run_tool, cub_root, tmp_path):
    other = _checkpoint(str(tmp_path / 'other.pth'), 7)
    with pytest.raises(CheckpointMismatchError, match='other.pth'):
        run_tool(['tools/train.py', CONFIG, '--data-root', cub_root, '--work-dir', str(tmp_path / 'a'),
                  '--cfg-options', *OPTS, f'load_from={other}'])
    with pytest.raises(ValueError, match=r'model\.head\.num_classes=12 but the training set CUB .* has 10 classes'):
        run_tool(['tools/train.py', CONFIG, '--data-root', cub_root, '--work-dir', str(tmp_path / 'b'),
                  '--cfg-options', *OPTS, 'model.head.num_classes=12'])


def test_unreadable_image_is_named_or_skipped_when_asked(run_tool, cub_root, tmp_path):
    root = shutil.copytree(cub_root, str(tmp_path / 'CUB_200_2011'))
    train = [line.split()[0] for line in open(osp.join(root, 'train_test_split.txt')) if line.split()[1] == '1']
    names = dict(line.split() for line in open(osp.join(root, 'images.txt')))
    bad = osp.join(root, 'images', names[train[0]])
    open(bad, 'wb').close()  # zero bytes
    with pytest.raises(OSError, match=f'cannot read image {bad}: empty file'):
        run_tool(['tools/train.py', CONFIG, '--data-root', root, '--work-dir', str(tmp_path / 'a'), '--cfg-options',
                  *OPTS])
    # opt-in: the training pipeline's loader skips it (another sample is drawn) and the log counts it
    work = str(tmp_path / 'b')
    run_tool(['tools/train.py', CONFIG, '--data-root', root, '--work-dir', work, '--cfg-options', *OPTS,
              'train_dataloader.dataset.pipeline.0.ignore_empty=True', 'train_cfg.val_interval=2'])
    assert f'skipped unreadable image {bad} (empty file (0 bytes)); 1 skipped' in _logs(tmp_path)
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))


def _tool_module(name):
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_data_root_reaches_every_dataset(tool, monkeypatch):
    module = _tool_module(tool)
    config = osp.join(REPO, 'configs/dcal/demo_reid.py')
    head = [f'tools/{tool}.py', config] + (['x.pth'] if tool == 'test' else [])
    roots = {}
    for how in (['--data-root', '/elsewhere'], ['--cfg-options', 'data_root=/elsewhere']):
        monkeypatch.setattr(sys, 'argv', head + how)
        cfg = module.merge_args(Config.fromfile(config), module.parse_args())
        roots[how[0]] = [cfg.train_dataloader.dataset.data_root, cfg.val_dataloader.dataset.data_root,
                         cfg.test_dataloader.dataset.data_root]
    assert roots['--data-root'] == roots['--cfg-options'] == ['/elsewhere'] * 3
    monkeypatch.setattr(sys, 'argv', head + ['--data-root', '/a', '--cfg-options', 'data_root=/b'])
    with pytest.raises(ValueError, match='disagree'):
        module.merge_args(Config.fromfile(config), module.parse_args())


def test_set_data_root_through_wrappers():
    from dcal_mm.utils.launch import set_data_root
    leaf = dict(type='CUB', data_root='data/x')
    cfg = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset', times=2,
                    dataset=dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=dict(leaf)))),
            val_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[dict(leaf), dict(leaf)])),
            test_dataloader=None))
    keys = set_data_root(cfg, '/new', ('train_dataloader', 'val_dataloader', 'test_dataloader'))
    assert keys == ['train_dataloader.dataset.dataset.dataset', 'val_dataloader.dataset.datasets[0]',
                    'val_dataloader.dataset.datasets[1]']
    assert cfg.train_dataloader.dataset.dataset.dataset.data_root == '/new'
    assert [d.data_root for d in cfg.val_dataloader.dataset.datasets] == ['/new', '/new']
