# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint_check_hook import CheckpointCheckHook
from .config_keys_check_hook import ConfigKeysCheckHook
from .log_interval_hook import AdaptiveLogIntervalHook
from .non_finite_check_hook import NonFiniteCheckHook, NonFiniteError
from .num_classes_check_hook import NumClassesCheckHook
from .random_state_hook import RandomStateHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .val_picture_hook import ValPictureHook
from .work_dir_lock_hook import WorkDirInUseError, WorkDirLockHook

__all__ = [
    'AdaptiveLogIntervalHook', 'CheckpointCheckHook', 'ConfigKeysCheckHook', 'NonFiniteCheckHook', 'NonFiniteError', 'NumClassesCheckHook',
    'RandomStateHook', 'SafeCheckpointHook', 'ValPictureHook', 'WorkDirInUseError', 'WorkDirLockHook'
]
