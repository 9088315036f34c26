# Copyright (c) OpenMMLab. All rights reserved.
"""Launch helpers shared by ``tools/train.py`` and ``tools/test.py``."""
import contextlib
import logging
from typing import List, Optional, Sequence

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


def _innermost_datasets(node: dict, key: str):
    """``(key, dict)`` of the datasets under a dataset config, through
    ``dataset=`` (RepeatDataset, ClassBalancedDataset, ...) and ``datasets=``
    (ConcatDataset) wrappers."""
    if 'dataset' in node and isinstance(node['dataset'], dict):
        yield from _innermost_datasets(node['dataset'], f'{key}.dataset')
    elif 'datasets' in node:
        for i, child in enumerate(node['datasets']):
            yield from _innermost_datasets(child, f'{key}.datasets[{i}]')
    else:
        yield key, node


def set_data_root(cfg: Config, data_root: str, fields: Sequence[str]) -> List[str]:
    """Set ``data_root`` of every dataset of the given dataloaders.

    A config's top-level ``data_root`` variable has already been substituted
    into the dataset dicts when the file was read, so overriding it changes
    nothing; this sets the datasets themselves, through wrappers.

    Args:
        cfg (Config): The config, changed in place.
        data_root (str): The new root (what the dataset's ``data_root``
            argument means, e.g. the folder holding ``Market-1501-v15.09.15``
            for Re-ID sets, the ``CUB_200_2011`` folder for CUB).
        fields (Sequence[str]): Dataloader fields, e.g. ``train_dataloader``.

    Returns:
        list[str]: The keys that were set.
    """
    keys = []
    for field in fields:
        loader = cfg.get(field, None)
        if loader is None or loader.get('dataset', None) is None:
            continue
        for key, dataset in _innermost_datasets(loader['dataset'], f'{field}.dataset'):
            dataset['data_root'] = data_root
            keys.append(key)
    if not keys:
        raise ValueError(f'--data-root: no dataset found in {", ".join(fields)}')
    cfg.data_root = data_root
    print_log(f'data_root={data_root} set in {", ".join(keys)}', logger='current')
    return keys


def take_data_root(args) -> Optional[str]:
    """The data root asked for: ``--data-root`` or ``--cfg-options data_root=``.

    The top-level ``data_root`` of ``--cfg-options`` would be ignored (see
    :func:`set_data_root`), so it is taken out of ``args.cfg_options`` and
    applied as ``--data-root``.

    Args:
        args (argparse.Namespace): With ``data_root`` and ``cfg_options``.

    Returns:
        str | None: The root, or None if neither was given.
    """
    root = args.data_root
    options = args.cfg_options or {}
    if 'data_root' in options:
        option = options.pop('data_root')
        if root is not None and root != option:
            raise ValueError(f'--data-root {root} and --cfg-options data_root={option} disagree; give one')
        print_log(f'--cfg-options data_root={option} is applied to every dataset, as --data-root', logger='current')
        root = option
    return root
