# Copyright (c) OpenMMLab. All rights reserved.
from .reid_metric import ReIDMetric

__all__ = ['ReIDMetric']
