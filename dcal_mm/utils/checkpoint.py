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

A checkpoint with NaN / infinite tensors is refused too. Saving is atomic
(:func:`save_checkpoint`, installed in MMEngine's runner), and
:func:`resolve_last_checkpoint` finds what ``--resume`` resumes from inside
the work directory, refusing an empty, missing or truncated one with the list
of intact checkpoints.
"""
import contextlib
import logging
import os
import re
from collections import OrderedDict
from typing import Dict, List, Optional

import torch
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner.checkpoint import save_checkpoint as _mmengine_save  # bound before dcal_mm replaces the name
from torch import nn

_REVISE_KEYS = [(r'^module\.', '')]
_PARTIAL = {'allowed': False}
_SHOW = 3  # keys named per category in an error


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys or shapes do not match the model, or its values
    are not finite."""


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
    non_finite = [
        k for k, v in state_dict.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if non_finite:
        raise CheckpointMismatchError(
            f'checkpoint {source} holds NaN / infinite values in {len(non_finite)} of {len(state_dict)} tensors ('
            f'{", ".join(non_finite[:_SHOW])}{", ..." if len(non_finite) > _SHOW else ""}): it was saved after '
            'training diverged and would predict nothing useful; use an earlier checkpoint')
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


def save_checkpoint(checkpoint: dict, filename: str, file_client_args: Optional[dict] = None,
                    backend_args: Optional[dict] = None) -> None:
    """``mmengine.runner.save_checkpoint`` that never leaves a half-written
    file under the checkpoint's name.

    Local files are written to a temporary name in the same folder
    (``.NAME.tmp-PID``), flushed to disk (``fsync``) and renamed into place
    (atomic on POSIX): a run killed while saving leaves the previous file (or
    none), never a truncated one. Other backends (``s3://``, ``pavi://`` ...)
    are MMEngine's. Installed in MMEngine's runner when :mod:`dcal_mm` is
    imported.

    Args:
        checkpoint (dict): What to save.
        filename (str): The checkpoint file.
        file_client_args (dict, optional): MMEngine's (deprecated) argument.
        backend_args (dict, optional): MMEngine's file backend arguments.
    """
    if '://' in str(filename) or file_client_args is not None or (backend_args or {}).get('backend', 'local') != 'local':
        return _mmengine_save(checkpoint, filename, file_client_args=file_client_args, backend_args=backend_args)
    filename = str(filename)
    folder = os.path.dirname(os.path.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f'.{os.path.basename(filename)}.tmp-{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filename)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # the rename itself on disk
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class CheckpointUnreadableError(OSError):
    """A checkpoint file is missing, empty, truncated or not a checkpoint."""


def checkpoint_problem(path: str, deep: bool = True) -> Optional[str]:
    """Why ``path`` is not a readable checkpoint, or None if it looks intact.

    Checks existence, size and, for torch's zip format (every file that
    ``torch.save`` writes since torch 1.6), the archive's directory and the
    CRC of every member, without unpickling: a file cut short by a kill has no
    zip directory. Legacy (non-zip) files are only checked for existence and
    size. ``.safetensors`` files: their header.

    Args:
        path (str): The checkpoint file.
        deep (bool): Also check every member's CRC (reads the whole file);
            else only the zip directory. Defaults to True.

    Returns:
        str | None: ``'does not exist'``, ``'is empty (0 bytes)'``,
        ``'is truncated or corrupt (...)'``, or None.
    """
    import zipfile
    if not os.path.exists(path):
        return 'does not exist'
    if os.path.isdir(path):
        return 'is a directory, not a checkpoint file'
    size = os.path.getsize(path)
    if size == 0:
        return 'is empty (0 bytes)'
    if path.endswith('.safetensors'):
        try:
            from safetensors import safe_open
            with safe_open(path, framework='pt'):
                return None
        except Exception as err:  # noqa: BLE001
            return f'is truncated or corrupt ({" ".join(str(err).split())[:120]})'
    with open(path, 'rb') as f:
        magic = f.read(4)
    if magic != b'PK\x03\x04':
        return None  # legacy torch format or another pickle: left to the loader
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip() if deep else None
        if bad is not None:
            return f'is corrupt (member {bad} fails its CRC check)'
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return f'is truncated or corrupt ({size} bytes, {err})'
    return None


def list_intact_checkpoints(work_dir: str) -> List[str]:
    """The checkpoints (``*.pth``) of ``work_dir`` that pass
    :func:`checkpoint_problem`, newest first."""
    import glob
    paths = [p for p in glob.glob(os.path.join(work_dir, '*.pth')) if os.path.isfile(p)]
    paths.sort(key=os.path.getmtime, reverse=True)
    return [p for p in paths if checkpoint_problem(p) is None]


def resolve_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint that ``work_dir/last_checkpoint`` names, resolved
    inside ``work_dir``; None when there is no ``last_checkpoint`` file.

    MMEngine writes the absolute path of the checkpoint there, so after a work
    dir was copied or moved it names the original's file: the file of that
    name inside ``work_dir`` is taken (and a path outside only if the work dir
    has no such file and it exists, with a warning). The checkpoint must be
    intact (:func:`checkpoint_problem`).

    Args:
        work_dir (str): The run's work directory.

    Returns:
        str | None: The checkpoint file to resume from.

    Raises:
        CheckpointUnreadableError: ``last_checkpoint`` is empty, or names a
            checkpoint that is missing or unreadable; the message lists the
            intact checkpoints of ``work_dir`` to resume from instead.
    """
    save_file = os.path.join(work_dir, 'last_checkpoint')
    if not os.path.isfile(save_file):
        return None
    with open(save_file) as f:
        named = f.read().strip()

    def _fail(what: str):
        intact = list_intact_checkpoints(work_dir)
        hint = (f'intact checkpoints in {work_dir}: {", ".join(intact)}; resume from one with --resume PATH'
                if intact else f'no intact checkpoint in {work_dir}; train without --resume (a new run)')
        raise CheckpointUnreadableError(f'{what}; {hint}')

    if not named:
        _fail(f'{save_file} is empty (a run was stopped while writing it)')
    inside = os.path.join(work_dir, os.path.basename(named))
    if os.path.abspath(inside) != os.path.abspath(named):
        if os.path.exists(inside):
            print_log(f'{save_file} names {named}, outside this work dir (copied or moved?): resuming from {inside}',
                      logger='current', level=logging.WARNING)
            named = inside
        elif os.path.exists(named):
            print_log(f'{save_file} names {named}, outside this work dir, and the work dir has no {inside}: '
                      f'resuming from {named}', logger='current', level=logging.WARNING)
        else:
            named = inside
    problem = checkpoint_problem(named)
    if problem is not None:
        _fail(f'{save_file} names the checkpoint {named}, which {problem}')
    return named
