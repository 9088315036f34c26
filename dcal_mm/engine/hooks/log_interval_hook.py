# Copyright (c) OpenMMLab. All rights reserved.
import time
from typing import Callable, Optional

from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class AdaptiveLogIntervalHook(Hook):
    """Lower ``LoggerHook.interval`` so that a training log line appears at
    least every ``max_seconds`` seconds.

    A fixed interval (50 iterations by default) means minutes of silence on a
    slow machine (a ViT-B at 448 px on CPU) and a flood of lines on a fast
    one. After ``measure_iters`` training iterations (the first one, with
    its start-up costs, is not timed) the hook measures the seconds per
    iteration and sets ``interval = max(1, floor(max_seconds / sec_per_iter))``
    when that is below the configured interval; it never raises it. It
    measures again after a resume (a new ``before_train``).

    Args:
        max_seconds (float): Longest wait between two training log lines.
            Defaults to 30.
        measure_iters (int): Iterations timed before adapting. Defaults
            to 3.
        timer (callable, optional): Clock returning seconds
            (``time.perf_counter`` by default; tests pass a fake one).
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL) in after_train_iter

    def __init__(self, max_seconds: float = 30., measure_iters: int = 3, timer: Optional[Callable] = None):
        if not max_seconds > 0:
            raise ValueError(f'AdaptiveLogIntervalHook: max_seconds must be > 0, got {max_seconds!r}')
        if isinstance(measure_iters, bool) or not isinstance(measure_iters, int) or measure_iters < 1:
            raise ValueError(f'AdaptiveLogIntervalHook: measure_iters must be a positive int, got {measure_iters!r}')
        self.max_seconds = float(max_seconds)
        self.measure_iters = measure_iters
        self.timer = timer or time.perf_counter
        self.sec_per_iter = None

    def before_train(self, runner) -> None:
        self._seen = 0
        self._start = None
        self._done = False

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._done:
            return
        now = self.timer()
        self._seen += 1
        if self._seen == 1:  # start timing after the first iteration
            self._start = now
            return
        if self._seen - 1 < self.measure_iters:
            return
        self._done = True
        self.sec_per_iter = (now - self._start) / self.measure_iters
        loggers = [hook for hook in runner.hooks if isinstance(hook, LoggerHook)]
        if not loggers or self.sec_per_iter <= 0:
            return
        logger = loggers[0]
        interval = max(1, int(self.max_seconds // self.sec_per_iter))
        if interval < logger.interval:
            print_log(
                f'AdaptiveLogIntervalHook: {self.sec_per_iter:.2f} s/iter, so LoggerHook.interval '
                f'{logger.interval} -> {interval} (a log line at least every {self.max_seconds:g} s)',
                logger='current')
            logger.interval = interval
