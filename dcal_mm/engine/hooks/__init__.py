# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint_check_hook import CheckpointCheckHook
from .num_classes_check_hook import NumClassesCheckHook
from .random_state_hook import RandomStateHook

__all__ = ['CheckpointCheckHook', 'NumClassesCheckHook', 'RandomStateHook']
