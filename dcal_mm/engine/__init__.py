# Copyright (c) OpenMMLab. All rights reserved.
from .hooks import PairEpochHook

__all__ = ['PairEpochHook']
