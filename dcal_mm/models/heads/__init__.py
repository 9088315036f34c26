# Copyright (c) OpenMMLab. All rights reserved.
from .clan_head import CLANHead
from .dcal_cls_head import DCALClsHead, DCALFeatures
from .dcal_reid_head import DCALReIDHead
from .reid_head import ReIDHead

__all__ = ['CLANHead', 'DCALClsHead', 'DCALFeatures', 'DCALReIDHead', 'ReIDHead']
