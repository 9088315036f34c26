# Copyright (c) OpenMMLab. All rights reserved.
from .clan_neck import CLANNeck
from .glca import GLCA
from .pwca import PWCA

__all__ = ['CLANNeck', 'GLCA', 'PWCA']
