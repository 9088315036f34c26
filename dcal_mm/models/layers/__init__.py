# Copyright (c) OpenMMLab. All rights reserved.
from .attention import cross_attention, pair_attention, self_attention
from .block import DCALBlock
from .bnneck import BNNeck
from .clan import CrossLayerContextAttention, CrossLayerSpatialAttention
from .glsim_crop import crop_and_resize, global_local_similarity, patch_indices_to_boxes
from .rga import RGAChannel, RGAModule, RGASpatial
from .rollout import attention_rollout_cls

__all__ = [
    'BNNeck', 'CrossLayerContextAttention', 'CrossLayerSpatialAttention', 'DCALBlock', 'RGAChannel', 'RGAModule',
    'RGASpatial', 'attention_rollout_cls', 'cross_attention', 'pair_attention', 'self_attention',
    'crop_and_resize', 'global_local_similarity', 'patch_indices_to_boxes'
]
