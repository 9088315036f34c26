# Copyright (c) OpenMMLab. All rights reserved.
"""Launch helpers shared by ``tools/train.py`` and ``tools/test.py``."""
import contextlib
import logging
from typing import Sequence

import torch
from mmengine.config import Config, ConfigDict
from mmengine.dist import init_dist, is_distributed
from mmengine.logging import print_log


@contextlib.contextmanager
def _no_cuda_set_device():
    """MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` even for gloo."""
    set_device = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = set_device


def setup_cpu_distributed(cfg: Config) -> None:
    """Run a distributed launch on CPU: gloo backend, DDP without device ids.

    Does nothing when CUDA is available or the launcher is ``'none'``.
    """
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    backend = dist_cfg.get('backend', 'nccl')
    if backend != 'gloo':
        print_log(
            f'CUDA is not available: distributed backend {backend!r} replaced by \'gloo\'',
            logger='current',
            level=logging.WARNING)
        dist_cfg['backend'] = 'gloo'
    # DDP on CPU modules must get device_ids=None; MMEngine passes [LOCAL_RANK].
    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = ConfigDict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
        wrapper_cfg = cfg.model_wrapper_cfg
    wrapper_cfg.setdefault('device_ids', None)
    # The runner skips init_dist when a process group exists.
    if not is_distributed():
        with _no_cuda_set_device():
            init_dist(cfg.launcher, **dist_cfg)


def fix_persistent_workers(cfg: Config, fields: Sequence[str]) -> None:
    """Turn off ``persistent_workers`` where ``num_workers`` is 0 (PyTorch
    rejects the combination; MMPretrain's tools force it on)."""
    for field in fields:
        loader = cfg.get(field, None)
        if loader is None or loader.get('num_workers', 0) > 0 or not loader.get('persistent_workers', False):
            continue
        loader['persistent_workers'] = False
        print_log(f'{field}: num_workers=0, so persistent_workers is set to False', logger='current')
