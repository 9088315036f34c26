# Copyright (c) OpenMMLab. All rights reserved.
from mmengine.hooks import Hook
from mmengine.runner import find_latest_checkpoint
from mmpretrain.registry import HOOKS

from dcal_mm.utils.checkpoint import check_state_dict, checkpoint_state_dict


@HOOKS.register_module()
class CheckpointCheckHook(Hook):
    """Refuse a checkpoint that does not fit the model in ``load_from``,
    ``tools/test.py`` and ``--resume``; log what every load brought in.

    The runner loads with ``strict=False``, so another model's checkpoint
    would only print warnings and leave the rest of the model random. This
    hook compares keys and shapes when the checkpoint has been read and before
    it is loaded, and raises one line naming how many keys are missing,
    unexpected and mis-shaped (and the first few) unless the config sets
    ``allow_partial_load = True`` (``--allow-partial-load`` in the tools).

    Registered in ``default_hooks`` of ``configs/_base_/default_runtime.py``.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Check ``checkpoint`` against ``runner.model``.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint as read.
        """
        source = getattr(runner, '_load_from', None)
        if source is None and getattr(runner, '_resume', False):
            source = find_latest_checkpoint(runner.work_dir)
        allow = bool(runner.cfg.get('allow_partial_load', False))
        check_state_dict(runner.model, checkpoint_state_dict(checkpoint), source or '(runner.load_checkpoint)', allow)
