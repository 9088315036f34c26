# Copyright (c) OpenMMLab. All rights reserved.
from .compat import apply_compat_patches, load_local_checkpoint

__all__ = ['apply_compat_patches', 'load_local_checkpoint']
