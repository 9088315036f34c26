# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import checkpointed
from .partners import PARTNER_POLICIES, draw_partners
from .timm_checkpoint import checkpoint_filter_fn, load_pretrained_vit, read_state_dict

__all__ = [
    'PARTNER_POLICIES', 'checkpoint_filter_fn', 'checkpointed', 'draw_partners', 'load_pretrained_vit',
    'read_state_dict'
]
