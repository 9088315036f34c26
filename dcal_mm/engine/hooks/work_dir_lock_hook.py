# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
import socket
import time
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

LOCK_NAME = '.train.lock'
# work dir (real path) -> open lock file of this process: a run of this process that stopped with an error keeps
# its lock until the process ends; a later run of the same process takes it over (one training at a time)
_HELD: Dict[str, object] = {}


class WorkDirInUseError(RuntimeError):
    """Another live training holds the work directory."""


def _lock(handle) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, nothing is refused
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def acquire_work_dir(work_dir: str, what: str = '') -> None:
    """Lock ``work_dir`` for this process or raise naming the holder.

    The lock is an advisory ``flock`` on ``work_dir/.train.lock``, released
    by the operating system when the process ends (also when it is killed),
    so a stale file never blocks a new run.

    Args:
        work_dir (str): The run's work directory.
        what (str): What this run is (logged in the lock file).

    Raises:
        WorkDirInUseError: A live process holds the lock.
    """
    key = osp.realpath(work_dir)
    if key in _HELD:
        return
    os.makedirs(key, exist_ok=True)
    path = osp.join(key, LOCK_NAME)
    handle = open(path, 'a+')
    if not _lock(handle):
        handle.seek(0)
        holder = handle.read().strip() or 'unknown process'
        handle.close()
        raise WorkDirInUseError(f'work dir {work_dir} is in use by another training ({holder}); two runs in one work '
                                'dir overwrite each other\'s checkpoints and last_checkpoint: wait for it to end or '
                                'pass another --work-dir')
    handle.seek(0)
    handle.truncate()
    handle.write(f'pid {os.getpid()} on {socket.gethostname()}, started {time.strftime("%Y-%m-%d %H:%M:%S")}'
                 f'{", " + what if what else ""}\n')
    handle.flush()
    _HELD[key] = handle


def release_work_dir(work_dir: str) -> None:
    """Release the lock this process holds on ``work_dir`` (if any)."""
    handle = _HELD.pop(osp.realpath(work_dir), None)
    if handle is not None:
        handle.close()  # closing the file releases the flock


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Refuse a second training in a work directory that a live training
    uses.

    Two trainings in one work dir (e.g. two seeds started with the same
    config) both run to the end while deleting and overwriting each other's
    ``epoch_N.pth`` and ``last_checkpoint``; nothing warns. This hook takes
    an exclusive lock on ``work_dir/.train.lock`` (rank 0) before training
    starts and holds it until the run ends; a second run in the same
    directory stops with the first one's pid, host and start time. The lock
    dies with its process, so a killed run never blocks the next one.
    Testing (``tools/test.py``) takes no lock.

    Registered in ``default_hooks`` of ``configs/_base_/default_runtime.py``.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._work_dir: Optional[str] = None

    def before_train(self, runner) -> None:
        """Take the lock (rank 0)."""
        if not is_main_process():
            return
        config = getattr(runner.cfg, 'filename', None)
        acquire_work_dir(runner.work_dir, f'config {config}' if config else '')
        self._work_dir = runner.work_dir
        print_log(f'work dir {runner.work_dir} locked for this training ({LOCK_NAME})', logger='current')

    def after_run(self, runner) -> None:
        """Release the lock."""
        if self._work_dir is not None:
            release_work_dir(self._work_dir)
            self._work_dir = None
