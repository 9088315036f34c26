# Copyright (c) OpenMMLab. All rights reserved.
from .hooks import (CheckpointCheckHook, ConfigKeysCheckHook, NonFiniteCheckHook, NonFiniteError, NumClassesCheckHook,
                    RandomStateHook, SafeCheckpointHook, WorkDirInUseError, WorkDirLockHook)

__all__ = [
    'CheckpointCheckHook', 'ConfigKeysCheckHook', 'NonFiniteCheckHook', 'NonFiniteError', 'NumClassesCheckHook',
    'RandomStateHook', 'SafeCheckpointHook', 'WorkDirInUseError', 'WorkDirLockHook'
]
