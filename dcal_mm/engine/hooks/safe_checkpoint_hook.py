# Copyright (c) OpenMMLab. All rights reserved.
import contextlib
import os
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` only note the path."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.pending: List[str] = []

    def remove(self, path) -> None:
        self.pending.append(path)

    def rmtree(self, path) -> None:
        self.pending.append(path)

    def __getattr__(self, name):
        return getattr(self._backend, name)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` that deletes old checkpoints only after
    the new one is complete, and writes ``last_checkpoint`` atomically.

    MMEngine removes the oldest checkpoint (``max_keep_ckpts``) and the
    previous best one *before* writing the new file, so a run killed while
    saving with ``max_keep_ckpts=1`` is left with no checkpoint at all. Here
    the removals wait until the new checkpoint has been written (to a
    temporary name, flushed and renamed into place by
    :func:`dcal_mm.utils.checkpoint.save_checkpoint`) and ``last_checkpoint``
    names it; a kill at any moment leaves at least one intact checkpoint that
    ``last_checkpoint`` (or the ``--resume`` error message) points to.
    Arguments and file names are MMEngine's.

    Registered as ``default_hooks.checkpoint`` in
    ``configs/_base_/default_runtime.py``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._deferred = None

    @contextlib.contextmanager
    def _removals_after_save(self):
        if self._deferred is not None:  # nested (best checkpoint -> periodic one): the outer call removes
            yield
            return
        backend = self.file_backend
        self._deferred = _DeferredRemoval(backend)
        self.file_backend = self._deferred
        try:
            yield
        finally:
            pending, self._deferred, self.file_backend = self._deferred.pending, None, backend
        keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None), *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for path in pending:
            if path in keep:
                continue
            if backend.isfile(path):
                backend.remove(path)
            elif backend.isdir(path):
                backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        with self._removals_after_save():
            super()._save_checkpoint_with_step(runner, step, meta)
            if is_main_process() and self.last_ckpt is not None:
                # MMEngine wrote it with open('w'): a kill in between left it empty
                save_file = osp.join(runner.work_dir, 'last_checkpoint')
                tmp = f'{save_file}.tmp-{os.getpid()}'
                with open(tmp, 'w') as f:
                    f.write(self.last_ckpt)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, save_file)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._removals_after_save():
            super()._save_best_checkpoint(runner, metrics)
