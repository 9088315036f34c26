# Copyright (c) OpenMMLab. All rights reserved.
"""Progress output of long loops and multi-run tools, with MMEngine's
:class:`~mmengine.utils.ProgressBar`.

MMEngine's ``ProgressBar(file=sys.stdout)`` binds the stream when mmengine
is imported; these helpers pass the *current* ``sys.stdout`` (redirections
and pytest's capture see the bar). The Re-ID metric and re-ranking use
:class:`Progress` too.
"""
import sys
import threading
import time
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.utils import ProgressBar


class Progress:
    """A progress bar over ``total`` tasks (silent when disabled or off the
    main process).

    Args:
        total (int): Number of tasks.
        enabled (bool): Draw it. Defaults to True.
        desc (str, optional): A line printed before the bar.
    """

    def __init__(self, total: int, enabled: bool = True, desc: Optional[str] = None):
        self.enabled = bool(enabled) and total > 0 and is_main_process()
        self.bar = None
        if self.enabled:
            if desc:
                print(desc, file=sys.stdout, flush=True)
            self.bar = ProgressBar(total, file=sys.stdout)

    def update(self, num: int = 1) -> None:
        """Mark ``num`` more tasks done."""
        if self.bar is not None:
            self.bar.update(num)
            if self.bar.completed >= self.bar.task_num:
                self.bar.file.write('\n')
                self.bar.file.flush()
                self.bar = None


def format_seconds(seconds: float) -> str:
    """``1h02m``, ``4m05s`` or ``12s``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'
    if seconds >= 60:
        return f'{seconds // 60}m{seconds % 60:02d}s'
    return f'{seconds}s'


class RunCounter:
    """``run k/n`` lines with elapsed time and ETA, for tools that run jobs
    one after another or a few at a time (the ETA assumes the remaining runs
    finish at the rate of the finished ones, so parallel runs are accounted
    for).

    Args:
        total (int): Number of runs.
        timer (callable): Clock, ``time.time`` by default (tests pass a
            fake one).
    """

    def __init__(self, total: int, timer=time.time):
        self.total, self.timer = total, timer
        self.start, self.done = timer(), 0
        self._lock = threading.Lock()  # runs finish in worker threads

    def finished(self, name: str) -> str:
        """Count one finished run (thread-safe); print and return its line."""
        with self._lock:
            self.done += 1
            elapsed = self.timer() - self.start
            left = self.total - self.done
            eta = elapsed / self.done * left
            line = f'run {self.done}/{self.total} done ({name}): elapsed {format_seconds(elapsed)}, ' \
                   f'ETA {format_seconds(eta)}'
            print(line, file=sys.stdout, flush=True)
        return line


class Stage:
    """A context manager printing ``<what> ...`` and ``<what>: done in Xs``.

    Args:
        what (str): What the stage does.
        timer (callable): Clock, ``time.time`` by default.
    """

    def __init__(self, what: str, timer=time.time):
        self.what, self.timer = what, timer

    def __enter__(self):
        self.start = self.timer()
        print(f'{self.what} ...', file=sys.stdout, flush=True)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            print(f'{self.what}: done in {format_seconds(self.timer() - self.start)}', file=sys.stdout, flush=True)
        return False
