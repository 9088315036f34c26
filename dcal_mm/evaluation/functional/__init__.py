# Copyright (c) OpenMMLab. All rights reserved.
from .reid import (PairwiseDistance, chunk_rows_for_budget, compute_distance_matrix, evaluate_reid,
                   evaluate_reid_from_features)
from .rerank import k_reciprocal_rerank, rerank_blocks

__all__ = [
    'PairwiseDistance', 'chunk_rows_for_budget', 'compute_distance_matrix', 'evaluate_reid',
    'evaluate_reid_from_features', 'k_reciprocal_rerank', 'rerank_blocks'
]
