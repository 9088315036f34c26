# Copyright (c) OpenMMLab. All rights reserved.
from .pair_data_preprocessor import PairDataPreprocessor
from .timm_checkpoint import checkpoint_filter_fn, load_pretrained_vit, read_state_dict

__all__ = ['PairDataPreprocessor', 'checkpoint_filter_fn', 'load_pretrained_vit', 'read_state_dict']
