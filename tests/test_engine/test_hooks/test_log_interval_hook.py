# Copyright (c) OpenMMLab. All rights reserved.
"""AdaptiveLogIntervalHook lowers LoggerHook.interval from the measured
seconds per iteration (a fake clock), never raises it, and is on by default."""
import os.path as osp
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.hooks import LoggerHook

from dcal_mm.engine.hooks import AdaptiveLogIntervalHook

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


class FakeClock:

    def __init__(self, step):
        self.now, self.step = 0., step

    def __call__(self):
        self.now += self.step  # every call is one more iteration's time
        return self.now


def _run(sec_per_iter, interval=50, iters=10, **kwargs):
    logger = LoggerHook(interval=interval)
    runner = SimpleNamespace(hooks=[logger])
    hook = AdaptiveLogIntervalHook(timer=FakeClock(sec_per_iter), **kwargs)
    hook.before_train(runner)
    intervals = []
    for i in range(iters):
        hook.after_train_iter(runner, i)
        intervals.append(logger.interval)
    return hook, logger, intervals


def test_slow_iterations_lower_the_interval():
    hook, logger, intervals = _run(4.0, measure_iters=3)
    assert hook.sec_per_iter == pytest.approx(4.0)
    assert logger.interval == 7  # 7 x 4 s = 28 s <= 30 s
    assert logger.interval * hook.sec_per_iter <= 30
    assert intervals[:3] == [50, 50, 50] and intervals[3] == 7  # adapted after the first + 3 timed iterations


def test_fast_iterations_keep_the_interval_and_very_slow_ones_log_every_iteration():
    _, logger, _ = _run(0.1)
    assert logger.interval == 50  # 50 x 0.1 s = 5 s: never raised
    _, logger, _ = _run(45.0)
    assert logger.interval == 1


def test_measures_again_after_resume():
    logger = LoggerHook(interval=50)
    runner = SimpleNamespace(hooks=[logger])
    clock = FakeClock(2.0)
    hook = AdaptiveLogIntervalHook(timer=clock, measure_iters=2)
    hook.before_train(runner)
    for i in range(5):
        hook.after_train_iter(runner, i)
    assert logger.interval == 15
    clock.step = 10.0
    hook.before_train(runner)
    for i in range(5):
        hook.after_train_iter(runner, i)
    assert logger.interval == 3


def test_bad_arguments():
    with pytest.raises(ValueError, match='max_seconds'):
        AdaptiveLogIntervalHook(max_seconds=0)
    with pytest.raises(ValueError, match='measure_iters'):
        AdaptiveLogIntervalHook(measure_iters=0)


def test_enabled_in_the_default_runtime():
    hooks = Config.fromfile(osp.join(REPO, 'configs/dcal/demo_fgvc.py')).default_hooks
    assert hooks.log_interval.type == 'AdaptiveLogIntervalHook' and hooks.log_interval.max_seconds == 30
