# Copyright (c) OpenMMLab. All rights reserved.
"""--resume through tools/train.py continues bit for bit (RandomStateHook), and
says so when there is nothing to resume from."""
import os.path as osp

import pytest
import torch

from dcal_mm.datasets.demo import make_demo_cub

CONFIG = 'configs/dcal/demo_fgvc.py'


@pytest.fixture(scope='module')
def cub_root(tmp_path_factory):
    return make_demo_cub(
        str(tmp_path_factory.mktemp('resume') / 'data'), num_classes=10, train_per_class=2, test_per_class=1)


def _train(run_tool, work_dir, data_root, num_workers, max_epochs, *extra):
    options = [e for e in extra if '=' in e]
    flags = [e for e in extra if '=' not in e]
    run_tool([
        'tools/train.py', CONFIG, '--work-dir', work_dir, '--data-root', data_root, *flags, '--cfg-options', *options,
        f'train_cfg.max_epochs={max_epochs}', 'train_cfg.val_interval=1', 'randomness.seed=0',
        'model.backbone.drop_path_rate=0.2',  # stochastic depth on: draws from the main process's generator
        f'train_dataloader.num_workers={num_workers}', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=5', 'default_hooks.logger.interval=1'
    ])


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


# Validation after epoch 1 draws from the generators: it must not change epoch 2 (validated or not), and with
# save_best MMEngine re-saves epoch_1.pth during validation, which must still hold the states training goes on from.
@pytest.mark.parametrize('num_workers, save_best', [(0, 'auto'), (2, None)])
def test_resume_is_bit_exact(run_tool, cub_root, tmp_path, num_workers, save_best):
    best = f'default_hooks.checkpoint.save_best={save_best}'
    straight = str(tmp_path / 'straight')
    _train(run_tool, straight, cub_root, num_workers, 2, best)
    ckpt = torch.load(osp.join(straight, 'epoch_1.pth'), map_location='cpu', weights_only=False)
    assert set(ckpt['random_states']) == {'python', 'numpy', 'torch', 'cuda'}

    # epoch 1 of the run above is what a 1-epoch run leaves (same seed, same code); resume epoch 2 from it
    resumed = str(tmp_path / 'resumed')
    _train(run_tool, resumed, cub_root, num_workers, 2, best, '--resume', osp.join(straight, 'epoch_1.pth'))
    assert not osp.exists(osp.join(resumed, 'epoch_1.pth'))
    a, b = _weights(osp.join(straight, 'epoch_2.pth')), _weights(osp.join(resumed, 'epoch_2.pth'))
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f'{len(different)} tensors differ after resume, e.g. {different[:3]}'
    # the weights did change in epoch 2 (the comparison is not vacuous)
    first = _weights(osp.join(straight, 'epoch_1.pth'))
    assert any(not torch.equal(first[k], a[k]) for k in a)


def test_resume_without_checkpoint_stops(run_tool, cub_root, tmp_path):
    work_dir = str(tmp_path / 'empty')
    with pytest.raises(SystemExit, match='no checkpoint to resume from in .*empty'):
        _train(run_tool, work_dir, cub_root, 0, 1, '--resume')
    with pytest.raises(SystemExit, match='missing.pth does not exist'):
        _train(run_tool, work_dir, cub_root, 0, 1, '--resume', str(tmp_path / 'missing.pth'))
    # --resume-or-start: MMEngine's resume='auto', from scratch here
    _train(run_tool, work_dir, cub_root, 0, 1, '--resume-or-start')
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
