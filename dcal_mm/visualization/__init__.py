# Copyright (c) OpenMMLab. All rights reserved.
from .attention import (attention_maps, load_view, render_attention, render_attention_picture,
                        save_attention_picture, top_class)
from .rank_list import KIND_COLORS, SAME_CAMERA_COLOR, cell_origin, draw_rank_list, match_kinds, rank_gallery

__all__ = [
    'KIND_COLORS', 'SAME_CAMERA_COLOR', 'attention_maps', 'cell_origin', 'draw_rank_list', 'load_view',
    'match_kinds', 'rank_gallery', 'render_attention', 'render_attention_picture', 'save_attention_picture',
    'top_class'
]
