# Copyright (c) OpenMMLab. All rights reserved.
from .hooks import CheckpointCheckHook, NumClassesCheckHook, PairEpochHook, RandomStateHook

__all__ = ['CheckpointCheckHook', 'NumClassesCheckHook', 'PairEpochHook', 'RandomStateHook']
