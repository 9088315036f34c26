# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .retrieval import ReIDRetrievalMixin


@MODELS.register_module()
class ReIDClassifier(ReIDRetrievalMixin, ImageClassifier):
    """Re-ID model: backbone, optional neck and a Re-ID head.

    Training is that of :class:`ImageClassifier` (``head.loss``). Prediction
    returns the DataSamples with ``pred_feature`` (a 1-D float tensor) set by
    the head, which ``ReIDMetric`` ranks; no class scores are produced unless
    a gallery is set for retrieval (see :class:`ReIDRetrievalMixin`).

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck config. Defaults to None.
        head (dict, optional): Head config; its ``predict`` must set
            ``pred_feature`` (e.g. :class:`ReIDHead`). Defaults to None.
        pretrained (str, optional): Checkpoint of the whole model.
            Defaults to None.
        train_cfg (dict, optional): As in :class:`ImageClassifier`; batch
            augments that mix labels break the triplet loss. Defaults to None.
        data_preprocessor (dict, optional): Defaults to
            ``ClsDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def extract_feat(self, inputs: torch.Tensor, stage: str = 'neck'):
        """Features at ``stage``, as :class:`ImageClassifier`, except that
        ``'pre_logits'`` gives the head's retrieval feature (the
        ``pred_feature`` that :meth:`predict` stores), when the head defines
        ``predict_features``.

        Args:
            inputs (torch.Tensor): Images of shape (B, 3, H, W).
            stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.

        Returns:
            tuple | torch.Tensor: See ``stage``.
        """
        if stage == 'pre_logits' and hasattr(self.head, 'predict_features'):
            return self.head.predict_features(super().extract_feat(inputs, stage='neck'))
        return super().extract_feat(inputs, stage=stage)

    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Extract retrieval features.

        Args:
            inputs (torch.Tensor): Images of shape (B, 3, H, W).
            data_samples (list[DataSample], optional): Samples to fill.
                Defaults to None.
            **kwargs: Passed to ``head.predict``.

        Returns:
            list[DataSample]: One sample per image with ``pred_feature``.
        """
        results = super().predict(inputs, data_samples, **kwargs)
        missing = [i for i, sample in enumerate(results) if 'pred_feature' not in sample]
        if missing:
            raise ValueError(f'ReIDClassifier: head {type(self.head).__name__} did not set pred_feature on '
                             f'{len(missing)} of {len(results)} samples; use a Re-ID head such as ReIDHead')
        return results
