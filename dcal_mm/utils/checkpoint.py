# Copyright (c) OpenMMLab. All rights reserved.
"""Checkpoint loading that refuses a checkpoint which does not fit the model.

MMEngine's ``load_checkpoint`` (used by ``tools/test.py``, ``load_from``,
MMPretrain's ``init_model`` / ``get_model`` and its inferencers) loads with
``strict=False``: another model's checkpoint only prints warnings and the
model keeps random weights for the rest. Here a mismatch is an error, one
line naming how many keys are missing / unexpected / mis-shaped and the first
few; a partial load has to be asked for (``strict=False`` passed explicitly,
the :func:`allow_partial_load` context, or ``allow_partial_load=True`` in a
config / ``--allow-partial-load`` in the tools). Every checked load is
logged with its path and what was loaded.

``init_cfg=dict(type='Pretrained', ...)`` (backbone initialisation from a
classification checkpoint) is not affected: it goes through
``mmengine.runner.checkpoint.load_checkpoint``, not the patched name.
"""
import contextlib
import logging
import re
from collections import OrderedDict
from typing import Dict, List, Optional

from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from torch import nn

_REVISE_KEYS = [(r'^module\.', '')]
_PARTIAL = {'allowed': False}
_SHOW = 3  # keys named per category in an error


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys or shapes do not match the model."""


@contextlib.contextmanager
def allow_partial_load():
    """Let checked loads inside the block load a partly matching checkpoint
    (logged), e.g. around MMPretrain's ``init_model`` / inferencers::

        with allow_partial_load():
            model = init_model(cfg, 'other_model.pth')
    """
    previous, _PARTIAL['allowed'] = _PARTIAL['allowed'], True
    try:
        yield
    finally:
        _PARTIAL['allowed'] = previous


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DDP / TTA wrappers (what the state dict is for)."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def checkpoint_state_dict(checkpoint: dict, revise_keys: Optional[list] = None) -> Dict[str, object]:
    """The state dict of a loaded checkpoint, with keys revised as MMEngine's
    ``_load_checkpoint_to_model`` does (``module.`` stripped by default)."""
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else checkpoint
    if not isinstance(state_dict, dict):
        raise CheckpointMismatchError(f'expected a checkpoint dict, got {type(state_dict).__name__}')
    for pattern, replacement in (_REVISE_KEYS if revise_keys is None else revise_keys):
        state_dict = OrderedDict((re.sub(pattern, replacement, k), v) for k, v in state_dict.items())
    return state_dict


def _count(keys: List[str], what: str) -> str:
    """``'3 unexpected (a, b, c, ...)'``, or ``'0 unexpected'``."""
    if not keys:
        return f'0 {what}'
    return f'{len(keys)} {what} (' + ', '.join(keys[:_SHOW]) + (', ...' if len(keys) > _SHOW else '') + ')'


def check_state_dict(model: nn.Module,
                     state_dict: Dict[str, object],
                     source: str,
                     allow_partial: bool = False,
                     logger='current') -> dict:
    """Compare a state dict with a model; raise on a mismatch unless allowed.

    ``num_batches_tracked`` buffers missing from the checkpoint are ignored,
    as MMEngine does (old torchvision files lack them).

    Args:
        model (nn.Module): The model (wrappers are looked through).
        state_dict (dict): Keys already revised (see
            :func:`checkpoint_state_dict`).
        source (str): The checkpoint's path, for the messages.
        allow_partial (bool): Log a mismatch instead of raising.
        logger: Where the summary goes (MMEngine ``print_log`` logger).

    Returns:
        dict: ``missing``, ``unexpected`` and ``mis_shaped`` key lists and
        ``loaded``, the number of tensors that fit.

    Raises:
        CheckpointMismatchError: On a mismatch when ``allow_partial`` is
            False; one line naming the counts and the first keys.
    """
    model = unwrap_model(model)
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state_dict if k not in own]
    mis_shaped = [
        f'{k} {tuple(v.shape)} vs {tuple(own[k].shape)}' for k, v in state_dict.items()
        if k in own and hasattr(v, 'shape') and tuple(v.shape) != tuple(own[k].shape)
    ]
    loaded = sum(k in own for k in state_dict) - len(mis_shaped)
    name = type(model).__name__
    if missing or unexpected or mis_shaped:
        summary = (f'{_count(missing, "missing")}, {_count(unexpected, "unexpected")}, '
                   f'{_count(mis_shaped, "mis-shaped, checkpoint vs model")}')
        if not allow_partial:
            raise CheckpointMismatchError(
                f'checkpoint {source} does not match the model {name}: {summary}; to load only the matching '
                'tensors on purpose pass --allow-partial-load (tools) or set allow_partial_load=True (config)')
        print_log(
            f'checkpoint {source}: partial load (allowed) of {loaded} of {len(own)} tensors into {name}; {summary}',
            logger=logger,
            level=logging.WARNING)
    else:
        print_log(f'checkpoint {source}: loaded all {loaded} tensors into {name} (keys and shapes match)',
                  logger=logger)
    return dict(missing=missing, unexpected=unexpected, mis_shaped=mis_shaped, loaded=loaded)


def load_checkpoint(model: nn.Module,
                    filename: str,
                    map_location=None,
                    strict: Optional[bool] = None,
                    logger=None,
                    revise_keys: list = _REVISE_KEYS) -> dict:
    """``mmengine.runner.load_checkpoint`` that checks keys and shapes first.

    Installed as ``mmengine.runner.load_checkpoint`` (and in
    ``mmpretrain.apis``) when :mod:`dcal_mm` is imported.

    Args:
        model (nn.Module): Module to load into.
        filename (str): Local path or URL.
        map_location: As in :func:`torch.load`.
        strict (bool, optional): None (the default): a mismatch is an error
            unless inside :func:`allow_partial_load`. False, passed on
            purpose: load what matches (logged). True: as MMEngine.
        logger: MMEngine logger for the summary.
        revise_keys (list): ``(pattern, replacement)`` pairs for the keys.

    Returns:
        dict: The loaded checkpoint.
    """
    from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model
    checkpoint = _load_checkpoint(filename, map_location, logger)
    allow = strict is False or (strict is None and _PARTIAL['allowed'])
    check_state_dict(model, checkpoint_state_dict(checkpoint, revise_keys), filename, allow, logger or 'current')
    return _load_checkpoint_to_model(model, checkpoint, bool(strict), logger, revise_keys)
