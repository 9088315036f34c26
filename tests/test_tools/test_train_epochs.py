# Copyright (c) OpenMMLab. All rights reserved.
"""``tools/train.py --epochs N`` scales the whole schedule with the run."""
import logging
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG = 'configs/dcal/demo_fgvc.py'


def _merge(load_tool, monkeypatch, *argv):
    module = load_tool('tools/train.py')
    monkeypatch.setattr(sys, 'argv', ['tools/train.py', CONFIG, *argv])
    args = module.parse_args()
    return module.merge_args(Config.fromfile(osp.join(REPO, CONFIG)), args)


def test_epochs_scales_schedule(load_tool, monkeypatch):
    original = Config.fromfile(osp.join(REPO, CONFIG))
    assert original.train_cfg.max_epochs == 30  # the test's arithmetic below assumes it
    cfg = _merge(load_tool, monkeypatch, '--epochs', '3')
    assert cfg.train_cfg.max_epochs == 3
    warmup, cosine = cfg.param_scheduler
    # 5 of 30 epochs warm-up -> 0.5 of 3 (converted to iterations, so fractional epochs are exact)
    assert (warmup.begin, warmup.end) == (0, 0.5)
    assert (cosine.begin, cosine.end) == (0.5, 3)
    assert cfg.train_cfg.val_interval == 3  # was 10
    assert cfg.default_hooks.checkpoint.interval == 3  # was 10


def test_explicit_cfg_options_win_over_epochs(load_tool, monkeypatch):
    cfg = _merge(load_tool, monkeypatch, '--epochs', '3', '--cfg-options', 'train_cfg.val_interval=1')
    assert cfg.train_cfg.val_interval == 1 and cfg.param_scheduler[1].end == 3


def test_iteration_and_whole_epoch_schedulers():
    from dcal_mm.utils.schedule import scale_schedule
    cfg = Config(
        dict(
            train_cfg=dict(by_epoch=True, max_epochs=50, val_interval=1),
            param_scheduler=[
                dict(type='LinearLR', by_epoch=False, begin=0, end=500),
                dict(type='CosineAnnealingLR', T_max=50, by_epoch=True, begin=0, end=50),
                dict(type='MultiStepLR', by_epoch=True, milestones=[20, 40]),
            ]))
    scale_schedule(cfg, 5)
    iters, cosine, steps = cfg.param_scheduler
    assert (iters.begin, iters.end) == (0, 50)  # iterations scaled by 5/50 too
    assert (cosine.T_max, cosine.end) == (5, 5)
    assert steps.milestones == [2, 4]
    # rounding to whole epochs never leaves an empty span
    cfg = Config(
        dict(
            train_cfg=dict(max_epochs=100),
            param_scheduler=[
                dict(type='LinearLR', by_epoch=True, begin=0, end=5),
                dict(type='CosineAnnealingLR', by_epoch=True, begin=5, end=100)
            ]))
    scale_schedule(cfg, 1)
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 1), (1, 2)]


def test_epochs_needs_epoch_based_loop():
    from dcal_mm.utils.schedule import scale_schedule
    with pytest.raises(ValueError, match='max_epochs'):
        scale_schedule(Config(dict(train_cfg=dict(by_epoch=False, max_iters=100))), 3)


def test_shortened_run_ends_at_cosine_floor(load_tool, monkeypatch):
    """Step MMEngine's own schedulers, built from the scaled config, through a 3-epoch run."""
    cfg = _merge(load_tool, monkeypatch, '--epochs', '3')
    base_lr, epoch_length = cfg.optim_wrapper.optimizer.lr, 7
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    builders = {'LinearLR': LinearLR, 'CosineAnnealingLR': CosineAnnealingLR}
    schedulers = []
    for sch in cfg.param_scheduler:
        kwargs = {k: v for k, v in sch.items() if k not in ('type', 'convert_to_iter_based')}
        schedulers.append(builders[sch.type].build_iter_from_epoch(optimizer, epoch_length=epoch_length, **kwargs))
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs * epoch_length):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    eta_min = cfg.param_scheduler[1].eta_min
    assert lrs[0] < 0.05 * base_lr  # warm-up start
    assert max(lrs) == pytest.approx(base_lr, rel=0.05)  # reached the peak
    assert lrs[-1] < eta_min + 0.02 * (base_lr - eta_min), lrs[-5:]  # last step near the cosine floor
    # without scaling (only max_epochs shortened) the run would stop at the top of the cosine
    unscaled = Config.fromfile(osp.join(REPO, CONFIG)).param_scheduler[1]
    assert unscaled.end == 30


def test_cfg_options_max_epochs_warns(load_tool, monkeypatch):
    from dcal_mm.utils import schedule
    logged = []
    monkeypatch.setattr(schedule, 'print_log', lambda msg, **kw: logged.append((msg, kw.get('level'))))
    cfg = _merge(load_tool, monkeypatch, '--cfg-options', 'train_cfg.max_epochs=3')
    assert len(logged) == 1 and 'NOT scaled' in logged[0][0] and '--epochs 3' in logged[0][0]
    assert logged[0][1] == logging.WARNING
    assert cfg.train_cfg.max_epochs == 3 and cfg.param_scheduler[1].end == 30


def test_fractional_spans_snap_to_whole_iterations():
    """--epochs 1 of 30 leaves a 1/6-epoch warm-up: on a 1-iteration epoch MMEngine's own conversion
    (int(end * epoch_length)) would make it empty; snapped, every span keeps at least one iteration."""
    from dcal_mm.utils.schedule import scale_schedule, snap_to_iterations
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    scale_schedule(cfg, 1)
    assert int(cfg.param_scheduler[0].end * 1) == 0  # what MMEngine would build: begin=0, end=0
    snap_to_iterations(cfg.param_scheduler, epoch_length=1, max_epochs=1)
    warmup, cosine = cfg.param_scheduler
    assert not warmup.by_epoch and (warmup.begin, warmup.end) == (0, 1)
    assert not cosine.by_epoch and cosine.begin == 0 and cosine.end == 1
    # a longer epoch keeps the proportions
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    scale_schedule(cfg, 3)
    snap_to_iterations(cfg.param_scheduler, epoch_length=10, max_epochs=3)
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 5), (5, 30)]
