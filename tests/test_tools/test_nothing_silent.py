# Copyright (c) OpenMMLab. All rights reserved.
"""Issue 16 through tools/train.py and tools/test.py: non-finite training,
two runs in one work dir, a kill during a checkpoint save, resume from copied
or damaged work dirs, class names, one-class data, --show-dir."""
import fcntl
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from dcal_mm.datasets.demo import demo_cub_class_names, make_demo_cub
from dcal_mm.engine import NonFiniteError, WorkDirInUseError
from dcal_mm.utils import CheckpointMismatchError
from dcal_mm.utils.checkpoint import CheckpointUnreadableError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/dcal/demo_fgvc.py'
OPTS = ['train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'] + [
    f'{split}_dataloader.num_workers=0' for split in ('train', 'val', 'test')
]


@pytest.fixture(scope='module')
def cub_root(tmp_path_factory):
    return make_demo_cub(str(tmp_path_factory.mktemp('silent') / 'data'), num_classes=10, train_per_class=1,
                         test_per_class=1)


def _train(run_tool, root, work_dir, *options, extra=()):
    run_tool(['tools/train.py', CONFIG, '--data-root', root, '--work-dir', str(work_dir), *extra, '--cfg-options',
              *OPTS, *options])


def test_non_finite_training_stops_and_zero_std_is_refused(run_tool, cub_root, tmp_path):
    with pytest.raises(ValueError, match=r'data_preprocessor\.std=\[0, 0, 0\]: expected positive finite numbers'):
        _train(run_tool, cub_root, tmp_path / 'a', 'data_preprocessor.std=[0,0,0]')
    # a learning rate that blows the weights up: NaN from the second iteration; stopped there, nothing saved
    with pytest.raises(NonFiniteError, match=r'non-finite loss at iteration 2 .*loss=nan.*sa_ce=nan'):
        _train(run_tool, cub_root, tmp_path / 'b', 'optim_wrapper.optimizer.lr=1e30', 'train_dataloader.batch_size=5')
    assert not [f for f in os.listdir(tmp_path / 'b') if f.endswith('.pth')]


def test_non_finite_checkpoint_is_refused(run_tool, cub_root, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    state = MODELS.build(cfg.model).state_dict()
    key = next(k for k, v in state.items() if k.startswith('head.') and v.is_floating_point())
    state[key] = torch.full_like(state[key], float('nan'))
    path = str(tmp_path / 'nan.pth')
    torch.save({'meta': {}, 'state_dict': state}, path)
    with pytest.raises(CheckpointMismatchError, match=f'nan.pth holds NaN / infinite values in 1 of {len(state)} tensors \\({key}\\)'):
        run_tool(['tools/test.py', CONFIG, path, '--data-root', cub_root, '--work-dir', str(tmp_path / 'w'),
                  '--cfg-options', *OPTS])


def test_second_run_in_a_live_work_dir_is_refused(run_tool, cub_root, tmp_path):
    work_dir = tmp_path / 'shared'
    work_dir.mkdir()
    # another live process holds the work dir, as a running tools/train.py does
    holder = subprocess.Popen([
        sys.executable, '-c', 'import fcntl, os, sys, time; f = open(sys.argv[1], "a+"); '
        'fcntl.flock(f, fcntl.LOCK_EX); f.write(f"pid {os.getpid()}"); f.flush(); print("locked", flush=True); '
        'time.sleep(60)',
        str(work_dir / '.train.lock')
    ], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        with pytest.raises(WorkDirInUseError, match=f'is in use by another training \\(pid {holder.pid}'):
            _train(run_tool, cub_root, work_dir)
    finally:
        holder.kill()
        holder.wait()
    assert not [f for f in os.listdir(work_dir) if f.endswith('.pth')]
    _train(run_tool, cub_root, work_dir)  # the holder is gone: its lock went with it
    with open(work_dir / '.train.lock') as f:  # and ours was released at the end of the run
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_kill_during_checkpoint_save_keeps_the_previous_one(run_tool, cub_root, tmp_path, monkeypatch):
    work_dir = tmp_path / 'w'
    save, calls = torch.save, []

    def dying_save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the epoch-2 checkpoint: half written, then the process is "killed"
            f.write(b'PK\x03\x04 half a checkpoint')
            raise KeyboardInterrupt
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, 'save', dying_save)
    with pytest.raises(KeyboardInterrupt):
        _train(run_tool, cub_root, work_dir, 'train_cfg.max_epochs=2', 'default_hooks.checkpoint.interval=1',
               'train_cfg.val_interval=10')
    monkeypatch.setattr(torch, 'save', save)
    files = sorted(os.listdir(work_dir))
    assert 'epoch_1.pth' in files and 'epoch_2.pth' not in files, files
    assert not [f for f in files if '.tmp' in f], files
    assert open(work_dir / 'last_checkpoint').read().strip().endswith('epoch_1.pth')
    # and --resume continues from it
    _train(run_tool, cub_root, work_dir, 'train_cfg.max_epochs=2', 'default_hooks.checkpoint.interval=1',
           'train_cfg.val_interval=10', extra=['--resume'])
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == ['epoch_2.pth']
    # class names of the data trained on, not MMPretrain's 200 CUB species
    meta = torch.load(work_dir / 'epoch_2.pth', weights_only=False)['meta']['dataset_meta']
    assert list(meta['classes']) == [name.split('.', 1)[1] for name in demo_cub_class_names(10)]


def _merge(load_tool, monkeypatch, tool, *argv):
    module = load_tool(tool)
    monkeypatch.setattr(sys, 'argv', [tool, *argv])
    args = module.parse_args()
    return module.merge_args(Config.fromfile(osp.join(REPO, args.config)), args)


def _fake_checkpoint(path, truncate=False):
    torch.save({'meta': {}, 'state_dict': {'w': torch.zeros(64)}}, path)
    if truncate:
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 2])
    return str(path)


def test_resume_inside_the_work_dir_and_named_damage(load_tool, monkeypatch, tmp_path):
    original, copy = tmp_path / 'original', tmp_path / 'copy'
    original.mkdir()
    _fake_checkpoint(original / 'epoch_1.pth')
    (original / 'last_checkpoint').write_text(str(original / 'epoch_1.pth'))
    shutil.copytree(original, copy)
    cfg = _merge(load_tool, monkeypatch, 'tools/train.py', CONFIG, '--work-dir', str(copy), '--resume')
    assert cfg.resume is True and cfg.load_from == str(copy / 'epoch_1.pth')  # not the original's file

    # the last checkpoint is truncated: named, with the intact one to use instead
    _fake_checkpoint(copy / 'epoch_2.pth', truncate=True)
    (copy / 'last_checkpoint').write_text(str(copy / 'epoch_2.pth'))
    for flag in ('--resume', '--resume-or-start'):
        with pytest.raises(CheckpointUnreadableError,
                           match=f'names the checkpoint {copy}/epoch_2.pth, which is truncated or corrupt.*intact '
                           f'checkpoints in {copy}: {copy}/epoch_1.pth'):
            _merge(load_tool, monkeypatch, 'tools/train.py', CONFIG, '--work-dir', str(copy), flag)
    # an empty last_checkpoint file
    (copy / 'last_checkpoint').write_text('')
    with pytest.raises(CheckpointUnreadableError, match=f'{copy}/last_checkpoint is empty.*{copy}/epoch_1.pth'):
        _merge(load_tool, monkeypatch, 'tools/train.py', CONFIG, '--work-dir', str(copy), '--resume')
    # --resume-or-start never starts from scratch over checkpoints it cannot use
    os.remove(copy / 'last_checkpoint')
    with pytest.raises(CheckpointUnreadableError, match=r'holds checkpoints .*epoch_1.pth.* but no last_checkpoint'):
        _merge(load_tool, monkeypatch, 'tools/train.py', CONFIG, '--work-dir', str(copy), '--resume-or-start')


def test_zero_byte_checkpoint_is_named(run_tool, cub_root, tmp_path):
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointUnreadableError, match=f'checkpoint file {empty} is empty \\(0 bytes\\)'):
        run_tool(['tools/test.py', CONFIG, str(empty), '--data-root', cub_root, '--work-dir', str(tmp_path / 'w'),
                  '--cfg-options', *OPTS])


def test_relative_show_dir_is_under_the_work_dir(load_tool, monkeypatch, tmp_path):
    cfg = _merge(load_tool, monkeypatch, 'tools/test.py', CONFIG, 'x.pth', '--work-dir', str(tmp_path), '--show-dir',
                 'vis')
    assert cfg.default_hooks.visualization.out_dir == osp.join(str(tmp_path), 'vis')
    cfg = _merge(load_tool, monkeypatch, 'tools/test.py', CONFIG, 'x.pth', '--work-dir', str(tmp_path), '--show-dir',
                 str(tmp_path / 'abs'))
    assert cfg.default_hooks.visualization.out_dir == str(tmp_path / 'abs')


def test_one_class_training_is_refused(run_tool, tmp_path):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=1, train_per_class=2, test_per_class=1)
    with pytest.raises(ValueError, match='model.head.num_classes=1: classification needs at least 2 classes'):
        _train(run_tool, root, tmp_path / 'w', 'model.head.num_classes=1', 'data_preprocessor.num_classes=1')


def test_misspelled_top_level_key_is_refused(run_tool, cub_root, tmp_path):
    config = tmp_path / 'mine.py'
    config.write_text(f"_base_ = ['{osp.join(REPO, CONFIG)}']\nmodle = dict(head=dict(num_classes=5))\n")
    with pytest.raises(KeyError, match="'modle' \\(did you mean 'model'\\?\\)"):
        run_tool(['tools/train.py', str(config), '--data-root', cub_root, '--work-dir', str(tmp_path / 'w'),
                  '--cfg-options', *OPTS])
