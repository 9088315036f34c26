# Copyright (c) OpenMMLab. All rights reserved.
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from dcal_mm.utils.config_check import check_config_keys


@HOOKS.register_module()
class ConfigKeysCheckHook(Hook):
    """Stop when the config has a top-level key that nothing reads.

    MMEngine ignores unknown top-level keys, so a misspelled one
    (``modle = dict(head=dict(num_classes=5))``) trains the base's model
    without a word. Before the run this hook raises
    :class:`~dcal_mm.utils.config_check.ConfigKeyError` naming such keys and
    the closest known one ("did you mean 'model'?"). Helper variables of
    old-style configs pass: see :mod:`dcal_mm.utils.config_check` for the rule
    (a name used in the config files, defined by a ``_base_`` file, or
    starting with ``_``).

    Registered in ``default_hooks`` of ``configs/_base_/default_runtime.py``.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        """Check ``runner.cfg``'s top-level keys."""
        check_config_keys(runner.cfg)
