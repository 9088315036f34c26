# Copyright (c) OpenMMLab. All rights reserved.
from .rank_list import KIND_COLORS, SAME_CAMERA_COLOR, cell_origin, draw_rank_list, match_kinds, rank_gallery

__all__ = ['KIND_COLORS', 'SAME_CAMERA_COLOR', 'cell_origin', 'draw_rank_list', 'match_kinds', 'rank_gallery']
