# Copyright (c) OpenMMLab. All rights reserved.
from .base_reid import BaseReIDDataset
from .cuhk03 import CUHK03
from .custom_reid import CustomReIDDataset
from .dukemtmc import DukeMTMC
from .market1501 import Market1501
from .msmt17 import MSMT17
from .veri776 import VeRi776

__all__ = ['BaseReIDDataset', 'CustomReIDDataset', 'Market1501', 'DukeMTMC', 'MSMT17', 'VeRi776', 'CUHK03']
