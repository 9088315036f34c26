# Copyright (c) OpenMMLab. All rights reserved.
from .timm_checkpoint import checkpoint_filter_fn, load_pretrained_vit, read_state_dict

__all__ = ['checkpoint_filter_fn', 'load_pretrained_vit', 'read_state_dict']
from .pair_data_preprocessor import PairDataPreprocessor  # noqa: E402

__all__ += ['PairDataPreprocessor']
