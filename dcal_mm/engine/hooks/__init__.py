# Copyright (c) OpenMMLab. All rights reserved.
from .pair_epoch_hook import PairEpochHook

__all__ = ['PairEpochHook']
