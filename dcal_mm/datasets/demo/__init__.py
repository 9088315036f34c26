# Copyright (c) OpenMMLab. All rights reserved.
from .cub_demo import demo_cub_class_names, demo_cub_pattern, make_demo_cub
from .market_demo import make_demo_market1501
from .pretrain_corpus import make_pretrain_corpus, pretrain_class_names

__all__ = [
    'make_demo_cub', 'demo_cub_class_names', 'demo_cub_pattern', 'make_demo_market1501', 'make_pretrain_corpus',
    'pretrain_class_names'
]
