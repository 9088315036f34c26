# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..heads.dcal_cls_head import DCALFeatures
from .retrieval import ReIDRetrievalMixin


@MODELS.register_module()
class DCAL(ReIDRetrievalMixin, ImageClassifier):
    """Dual Cross-Attention Learning (Zhu et al., CVPR 2022).

    Wires a :class:`DCALViT` backbone (SA branch + attention rollout), a
    :class:`GLCA` neck and a :class:`PWCA` neck (training only) to a DCAL head
    within MMPretrain's ``ImageClassifier`` contract, so ``tools/test.py``,
    ``Accuracy`` and ``ImageClassificationInferencer`` work unchanged. With
    ``glca=None`` and ``pwca=None`` it is the plain SA baseline.

    Training with PWCA needs image pairs: inputs of shape (B, 2, 3, H, W)
    (target, partner) made by :class:`PairDataset` and
    :class:`PairDataPreprocessor`.

    Args:
        backbone (dict): A :class:`DCALViT` config. ``with_rollout`` defaults
            to True when ``glca`` is given.
        head (dict): A DCAL head config (e.g. :class:`DCALClsHead`).
        glca (dict, optional): :class:`GLCA` config; ``embed_dims`` and
            ``num_heads`` default to the backbone's.
        pwca (dict, optional): :class:`PWCA` config.
        pretrained (str, optional): Whole-model checkpoint for ``init_cfg``.
        train_cfg (dict, optional): As in ``ImageClassifier``.
        data_preprocessor (dict, optional): Defaults to
            :class:`PairDataPreprocessor` when ``pwca`` is given.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 glca: Optional[dict] = None,
                 pwca: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        backbone = dict(backbone)
        backbone.setdefault('with_rollout', glca is not None)
        data_preprocessor = dict(data_preprocessor or {})
        if pwca is not None:
            data_preprocessor.setdefault('type', 'PairDataPreprocessor')
        super().__init__(
            backbone=backbone, head=head, pretrained=pretrained, train_cfg=train_cfg,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if getattr(self.backbone, 'out_type', 'cls_token') != 'cls_token':
            raise ValueError("DCAL needs a backbone with out_type='cls_token'")
        if glca is not None and not self.backbone.with_rollout:
            raise ValueError('DCAL with GLCA needs backbone.with_rollout=True')
        self.glca = None
        if glca is not None:
            glca = dict(glca)
            glca.setdefault('embed_dims', self.backbone.embed_dims)
            glca.setdefault('num_heads', self.backbone.num_heads)
            self.glca = MODELS.build(glca)
        self.pwca = MODELS.build(pwca) if pwca is not None else None
        for name, branch in (('glca', self.glca), ('pwca', self.pwca)):
            if getattr(self.head, f'with_{name}') != (branch is not None):
                raise ValueError(f'DCAL head.with_{name}={getattr(self.head, f"with_{name}")} does not match '
                                 f'{name}={"given" if branch is not None else "None"}')

    def init_weights(self) -> None:
        """Initialise, then start GLCA from the pretrained last SA block."""
        super().init_weights()
        if self.glca is not None and self.glca.init_from_backbone and self.backbone.pretrained_loaded:
            self.glca.init_from_block(self.backbone.blocks[-1], self.backbone.norm)

    def _split_pairs(self, inputs: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        if inputs.dim() == 5:
            if inputs.shape[1] != 2:
                raise ValueError(f'DCAL pair inputs must have shape (B, 2, C, H, W), got {tuple(inputs.shape)}')
            return inputs[:, 0], inputs[:, 1]
        if self.pwca is not None:
            raise ValueError(f'DCAL with PWCA trains on image pairs of shape (B, 2, C, H, W), got a batch of shape '
                             f'{tuple(inputs.shape)}: wrap the train dataset in PairDataset and use '
                             'PairDataPreprocessor')
        return inputs, None

    def extract_feat(self, inputs: Tensor, stage: str = 'neck'):
        """Inference features.

        Args:
            inputs (Tensor): Images, shape (B, 3, H, W).
            stage (str): ``'backbone'`` returns the backbone tuple;
                ``'neck'`` returns :class:`DCALFeatures` with the SA and
                (unless the head predicts from SA only) GLCA class tokens;
                ``'pre_logits'`` returns the head's ``pre_logits`` of those,
                one (B, D) tensor: a Re-ID head's ``pred_feature`` (what
                ``tools/test.py`` evaluates), or the class tokens an FGVC
                head classifies, concatenated.

        Returns:
            tuple | DCALFeatures | Tensor: See ``stage``.
        """
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'DCAL extract_feat stage must be backbone, neck or pre_logits, got {stage!r}')
        if stage == 'pre_logits':
            return self.head.pre_logits(self.extract_feat(inputs, 'neck'))
        inputs, _ = self._split_pairs(inputs) if inputs.dim() == 5 else (inputs, None)
        if stage == 'backbone':
            return self.backbone(inputs)
        use_glca = self.glca is not None and getattr(self.head, 'needs_glca', True)
        outs = self.backbone.forward_tokens(self.backbone.embed(inputs), with_rollout=use_glca)
        return DCALFeatures(outs[0], self.glca(outs)[0] if use_glca else None)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """SA, GLCA and PWCA branch losses.

        Args:
            inputs (Tensor): (B, 2, 3, H, W) pairs, or (B, 3, H, W) without
                PWCA.
            data_samples (list[DataSample]): Targets' annotations.

        Returns:
            dict[str, Tensor]: Losses and logs.
        """
        images, partners = self._split_pairs(inputs)
        tokens = self.backbone.embed(images)
        outs = self.backbone.forward_tokens(tokens, with_rollout=self.glca is not None)
        glca = self.glca(outs)[0] if self.glca is not None else None
        pwca = None
        if self.pwca is not None:
            num_blocks = self.pwca.num_blocks or self.backbone.num_layers
            with torch.no_grad():
                partner_kv = self.backbone.forward_partner_kv(partners, num_blocks)
            pwca = self.backbone.norm(self.pwca(self.backbone.blocks, tokens, partner_kv))[:, 0]
        return self.head.loss(DCALFeatures(outs[0], glca, pwca), data_samples)
