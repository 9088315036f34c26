# Copyright (c) OpenMMLab. All rights reserved.
from . import demo, samplers, transforms  # noqa: F401
from . import reid  # noqa: F401
from .pair_dataset import PairDataset  # noqa: E402
from .demo import make_demo_market1501  # noqa: E402
from .reid import CUHK03, MSMT17, BaseReIDDataset, DukeMTMC, Market1501, VeRi776  # noqa: E402
from .samplers import PKBatchSampler, PKSampler  # noqa: E402

__all__ = [
    'PairDataset', 'BaseReIDDataset', 'Market1501', 'DukeMTMC', 'MSMT17', 'VeRi776', 'CUHK03', 'PKSampler',
    'PKBatchSampler', 'make_demo_market1501'
]
