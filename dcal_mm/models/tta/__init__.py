# Copyright (c) OpenMMLab. All rights reserved.
from .reid_tta import AverageReIDFeatureTTA

__all__ = ['AverageReIDFeatureTTA']
