# Copyright (c) OpenMMLab. All rights reserved.
from .cub import CUB
from .demo import make_demo_cub, make_demo_market1501, make_pretrain_corpus
from .reid import CUHK03, MSMT17, BaseReIDDataset, CustomReIDDataset, DukeMTMC, Market1501, VeRi776
from .samplers import PairSampler, PKBatchSampler, PKSampler
from .transforms import LoadImageFromFile

__all__ = [
    'BaseReIDDataset', 'CUB', 'CUHK03', 'CustomReIDDataset', 'DukeMTMC', 'LoadImageFromFile', 'MSMT17', 'Market1501',
    'PairSampler', 'PKBatchSampler', 'PKSampler', 'VeRi776', 'make_demo_cub', 'make_demo_market1501',
    'make_pretrain_corpus'
]
