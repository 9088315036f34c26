# Copyright (c) OpenMMLab. All rights reserved.
from .hooks import CheckpointCheckHook, NumClassesCheckHook, RandomStateHook

__all__ = ['CheckpointCheckHook', 'NumClassesCheckHook', 'RandomStateHook']
