# Copyright (c) OpenMMLab. All rights reserved.
from typing import List

import torch
import torch.nn.functional as F
from mmengine.model import BaseTTAModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class AverageReIDFeatureTTA(BaseTTAModel):
    """Test-time augmentation for Re-ID: the L2-normalised mean of the
    ``pred_feature`` s of an image's augmented views (fast-reid's
    ``TEST.FLIP``: the image and its mirror).

    ``tools/test.py --tta`` wraps the model in ``tta_model`` (the Re-ID
    dataset bases set this class) and feeds it ``tta_pipeline``, by default
    the test pipeline with a ``TestTimeAug`` of a horizontal flip and no
    flip. Every other field of the first view's sample (labels, camera,
    ``is_query``) is kept, so ``ReIDMetric`` evaluates the merged features.

    Args:
        module (dict | nn.Module): The Re-ID model (its ``predict`` sets
            ``pred_feature``).
        data_preprocessor (dict | nn.Module, optional): See
            :class:`mmengine.model.BaseTTAModel`.
    """

    def merge_preds(self, data_samples_list: List[List[DataSample]]) -> List[DataSample]:
        """Merge the views of every image.

        Args:
            data_samples_list (list[list[DataSample]]): Per image, the
                predictions of its views.

        Returns:
            list[DataSample]: One sample per image whose ``pred_feature`` is
            ``normalize(mean(view features))``.
        """
        return [self._merge(views) for views in data_samples_list]

    @staticmethod
    def _merge(views: List[DataSample]) -> DataSample:
        if any('pred_feature' not in v for v in views):
            raise ValueError('AverageReIDFeatureTTA: every view needs pred_feature from the model (a Re-ID head); '
                             'use mmpretrain AverageClsScoreTTA for classifiers')
        mean = torch.stack([v.pred_feature for v in views]).mean(dim=0)
        merged = views[0].new()
        merged.set_field(F.normalize(mean, dim=0), 'pred_feature')
        return merged
