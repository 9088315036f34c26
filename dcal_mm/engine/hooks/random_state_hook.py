# Copyright (c) OpenMMLab. All rights reserved.
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS


def get_random_states() -> dict:
    """The global generators' states: python, numpy, torch CPU and CUDA."""
    return dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)


def set_random_states(states: dict) -> None:
    """Restore what :func:`get_random_states` returned."""
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    cuda = states.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            print_log(
                f'checkpoint has CUDA generator states for {len(cuda)} devices, this process sees '
                f'{torch.cuda.device_count()}: restored the first ones only',
                logger='current',
                level=logging.WARNING)
        for index, state in enumerate(cuda[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(state, index)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make ``--resume`` continue exactly where the checkpoint left off.

    MMEngine checkpoints hold no random-generator state, so a resumed run
    restarts the main process's generators from the seed: stochastic depth,
    dropout and main-process augmentation then differ from an uninterrupted
    run. This hook

    * saves the python, numpy, torch CPU and CUDA generator states in every
      checkpoint (``checkpoint['random_states']``);
    * on resume, restores them at the start of the first epoch (after
      everything else that resuming does, including MMEngine re-seeding);
    * runs validation with the generators saved and restored around it, so
      validating (and how often) never changes the training that follows;
    * stops if the checkpoint was trained with another seed than this run's
      (the samplers are already built from this run's seed).

    Samplers (``DefaultSampler``, ``PKSampler``) draw from ``(seed, epoch)``
    only, PWCA's in-batch partners from torch's generator (saved here), and MMEngine seeds dataloader workers from
    ``seed + worker id``, so with these states an epoch-based run resumed from
    an end-of-epoch checkpoint is bit-identical on CPU to an uninterrupted one,
    with ``num_workers=0`` or with non-persistent workers. Persistent workers
    keep their own generators across epochs, which no checkpoint can hold: a
    warning says so. Under DDP the saved states are rank 0's, which equal the
    other ranks' unless ``randomness.diff_rank_seed=True`` (warned).

    Registered in ``default_hooks`` of ``configs/_base_/default_runtime.py``.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._to_restore: Optional[dict] = None
        self._around_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # during validation (save_best) keep the states training continues from
        checkpoint['random_states'] = self._around_val or get_random_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from / test: weights only
        seed = checkpoint.get('meta', {}).get('seed')
        if seed is not None and seed != runner.seed:
            raise ValueError(f'resume: the checkpoint was trained with seed {seed} but this run uses seed '
                             f'{runner.seed}; set randomness.seed={seed} (e.g. --cfg-options randomness.seed={seed})')
        states = checkpoint.get('random_states')
        if states is None:
            print_log(
                'resume: the checkpoint holds no random-generator states (saved without RandomStateHook), so the '
                'resumed run will not be bit-identical to an uninterrupted one',
                logger='current',
                level=logging.WARNING)
        self._to_restore = states

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        if loader.num_workers > 0 and loader.persistent_workers:
            print_log(
                f'train_dataloader: persistent_workers=True with {loader.num_workers} workers: their random state '
                '(data augmentation) cannot be saved in a checkpoint, so a resumed run will not be bit-identical to '
                'an uninterrupted one; set train_dataloader.persistent_workers=False (tools/train.py '
                '--no-persistent-workers) for exact resume',
                logger='current',
                level=logging.WARNING)
        if self._to_restore is not None and runner.world_size > 1 and runner._randomness_cfg.get('diff_rank_seed'):
            print_log(
                'resume: randomness.diff_rank_seed=True, but the checkpoint holds rank 0\'s generator states only; '
                'every rank restores those',
                logger='current',
                level=logging.WARNING)

    def before_train_epoch(self, runner) -> None:
        if self._to_restore is not None:
            set_random_states(self._to_restore)
            self._to_restore = None
            print_log('resume: random-generator states restored from the checkpoint', logger='current')

    def before_val(self, runner) -> None:
        self._around_val = get_random_states()

    def after_val(self, runner) -> None:
        if self._around_val is not None:
            set_random_states(self._around_val)
            self._around_val = None
