# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import CheckpointMismatchError, allow_partial_load, check_state_dict
from .compat import apply_compat_patches, load_local_checkpoint

__all__ = [
    'CheckpointMismatchError', 'allow_partial_load', 'apply_compat_patches', 'check_state_dict',
    'load_local_checkpoint'
]
