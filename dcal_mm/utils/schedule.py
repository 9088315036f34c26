# Copyright (c) OpenMMLab. All rights reserved.
"""Shorten or lengthen a training schedule as a whole (``tools/train.py --epochs``)."""
import math
from typing import List

from mmengine.config import Config
from mmengine.logging import print_log

#: Keys of a parameter scheduler that are positions on the schedule (epochs,
#: or iterations when ``by_epoch=False``).
POSITION_KEYS = ('begin', 'end', 'T_max', 'total_iters', 'step_size')


def _scaled_position(value, ratio: float, exact: bool):
    """``value * ratio``: exact (a float) for schedulers converted to
    iterations, else an integer of at least 1 for a nonzero value."""
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return value
    scaled = value * ratio
    if exact:
        return int(scaled) if float(scaled).is_integer() else scaled
    return max(1, int(round(scaled))) if value > 0 else 0


def scale_schedule(cfg: Config, epochs: int) -> List[str]:
    """Make an epoch-based config train for ``epochs`` epochs with the same
    schedule shape.

    ``train_cfg.max_epochs`` is set to ``epochs``; every parameter scheduler's
    ``begin``, ``end``, ``T_max``, ``milestones`` etc. are scaled by
    ``epochs / max_epochs`` (warm-up and cosine keep their share of the run):
    epoch-based schedulers converted to iterations
    (``convert_to_iter_based=True``) exactly, other epoch-based ones rounded
    to whole epochs (at least 1), iteration-based ones (``by_epoch=False``)
    rounded to whole iterations. ``train_cfg.val_interval``,
    ``train_cfg.val_begin`` and the epoch-based checkpoint interval are
    clipped to ``epochs``.

    Args:
        cfg (Config): The config, changed in place.
        epochs (int): The new number of epochs.

    Returns:
        list[str]: ``key: old -> new`` for each changed value (also logged).
    """
    if epochs < 1:
        raise ValueError(f'--epochs {epochs}: expected a positive number of epochs')
    train_cfg = cfg.get('train_cfg') or {}
    if 'max_iters' in train_cfg or train_cfg.get('by_epoch', True) is False or 'max_epochs' not in train_cfg:
        raise ValueError(f'--epochs {epochs}: train_cfg has no max_epochs (an iteration-based or missing training '
                         'loop); expected an epoch-based train_cfg')
    old = train_cfg['max_epochs']
    ratio = epochs / old
    changes = [f'train_cfg.max_epochs: {old} -> {epochs}']
    train_cfg['max_epochs'] = epochs
    for key in ('val_interval', 'val_begin'):
        if key in train_cfg and train_cfg[key] > epochs:
            changes.append(f'train_cfg.{key}: {train_cfg[key]} -> {epochs}')
            train_cfg[key] = epochs

    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for i, scheduler in enumerate(schedulers):
        by_epoch = scheduler.get('by_epoch', True)
        exact = by_epoch and scheduler.get('convert_to_iter_based', False)
        for key in POSITION_KEYS:
            if key in scheduler and scheduler[key] is not None:
                new = _scaled_position(scheduler[key], ratio, exact)
                if by_epoch and key in ('begin', 'end') and not isinstance(new, str):
                    new = min(new, epochs)
                if new != scheduler[key]:
                    changes.append(f'param_scheduler.{i}.{key}: {scheduler[key]} -> {new}')
                    scheduler[key] = new
        begin, end = scheduler.get('begin', 0), scheduler.get('end')
        if not exact and end is not None and not (isinstance(end, float) and math.isinf(end)) and end <= begin:
            # rounding to whole epochs / iterations left an empty span (e.g. a 1-epoch cosine after a warm-up)
            changes.append(f'param_scheduler.{i}.end: {end} -> {begin + 1} (a span of at least 1)')
            scheduler['end'] = begin + 1
        if scheduler.get('milestones'):
            # MultiStepLR compares the step with its milestones: whole epochs / iterations, increasing
            milestones = []
            for m in scheduler['milestones']:
                m = _scaled_position(m, ratio, exact=False)
                milestones.append(max(m, milestones[-1] + 1) if milestones else m)
            if list(milestones) != list(scheduler['milestones']):
                changes.append(f'param_scheduler.{i}.milestones: {list(scheduler["milestones"])} -> {milestones}')
                scheduler['milestones'] = milestones

    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint and checkpoint.get('by_epoch', True) and checkpoint.get('interval', 1) > epochs:
        changes.append(f'default_hooks.checkpoint.interval: {checkpoint["interval"]} -> {epochs}')
        checkpoint['interval'] = epochs
    print_log(f'--epochs {epochs}: schedule scaled by {epochs}/{old}: ' + '; '.join(changes), logger='current')
    return changes


def warn_unscaled_max_epochs(cfg: Config, cfg_options: dict) -> bool:
    """Warn when ``--cfg-options train_cfg.max_epochs=N`` changes only the loop length.

    Args:
        cfg (Config): The config before ``cfg_options`` are merged.
        cfg_options (dict): The ``--cfg-options``.

    Returns:
        bool: Whether a warning was printed.
    """
    if not cfg_options or 'train_cfg.max_epochs' not in cfg_options:
        return False
    new = cfg_options['train_cfg.max_epochs']
    old = (cfg.get('train_cfg') or {}).get('max_epochs')
    if old is None or new == old or not cfg.get('param_scheduler'):
        return False
    print_log(f'--cfg-options train_cfg.max_epochs={new} changes only the training loop (config: {old} epochs); '
              'param_scheduler begin/end/T_max, val_interval and the checkpoint interval are NOT scaled; use '
              f'--epochs {new} to scale the schedule with the run', logger='current', level=30)
    return True


def snap_to_iterations(schedulers, epoch_length: int, max_epochs: int) -> List[str]:
    """Turn the epoch-based schedulers with ``convert_to_iter_based=True``
    into iteration-based ones at whole iterations, keeping each span at
    least one iteration long.

    After :func:`scale_schedule` such a scheduler can span a fraction of an
    epoch; MMEngine's conversion (``int(end * epoch_length)``) would make a
    short one empty (``end should be larger than begin``) on a small
    dataset. Called by ``tools/train.py --epochs`` once the length of an
    epoch is known.

    Args:
        schedulers (list[dict] | dict): The runner's ``param_scheduler``
            configs (changed in place); a dict of lists for several
            optimizers.
        epoch_length (int): Iterations per epoch.
        max_epochs (int): Epochs of the run.

    Returns:
        list[str]: ``key: old -> new`` for each changed scheduler.
    """
    if isinstance(schedulers, dict) and 'type' not in schedulers:
        return [c for group in schedulers.values() for c in snap_to_iterations(group, epoch_length, max_epochs)]
    schedulers = [schedulers] if isinstance(schedulers, dict) else (schedulers or [])
    total, changes = max_epochs * epoch_length, []
    for i, sch in enumerate(schedulers):
        if not isinstance(sch, dict) or not sch.get('by_epoch', True) or not sch.get('convert_to_iter_based'):
            continue
        begin = min(int(round(sch.get('begin', 0) * epoch_length)), total - 1)
        end = sch.get('end')
        if end is None or (isinstance(end, float) and math.isinf(end)):
            end = None
        else:
            end = max(min(int(round(end * epoch_length)), total), begin + 1)
        old = f'begin={sch.get("begin", 0)}, end={sch.get("end")} epochs'
        sch.update(by_epoch=False, convert_to_iter_based=False, begin=begin)
        if end is not None:
            sch['end'] = end
        for key in ('T_max', 'total_iters', 'step_size'):
            if sch.get(key) is not None:
                sch[key] = max(1, int(round(sch[key] * epoch_length)))
        if sch.get('milestones'):
            sch['milestones'] = [int(round(m * epoch_length)) for m in sch['milestones']]
        changes.append(f'param_scheduler.{i}: {old} -> iterations {begin}..{end}')
    if changes:
        print_log(f'--epochs: schedulers at whole iterations ({epoch_length} per epoch): ' + '; '.join(changes),
                  logger='current')
    return changes
