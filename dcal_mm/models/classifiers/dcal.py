# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..heads.dcal_cls_head import DCALFeatures
from ..utils import draw_partners
from .retrieval import ReIDRetrievalMixin


@MODELS.register_module()
class DCAL(ReIDRetrievalMixin, ImageClassifier):
    """Dual Cross-Attention Learning (Zhu et al., CVPR 2022).

    Wires a :class:`DCALViT` backbone (SA branch + attention rollout), a
    :class:`GLCA` neck and a :class:`PWCA` neck (training only) to a DCAL head
    within MMPretrain's ``ImageClassifier`` contract, so ``tools/test.py``,
    ``Accuracy`` and ``ImageClassificationInferencer`` work unchanged. With
    ``glca=None`` and ``pwca=None`` it is the plain SA baseline.

    Training batches are plain (B, 3, H, W) batches: with PWCA, every image
    is a target and each image's partner is another image of the same batch
    (``PWCA.partner_policy``), whose keys/values come from the SA pass
    already computed.

    Args:
        backbone (dict): A :class:`DCALViT` config. ``with_rollout`` defaults
            to True when ``glca`` is given.
        head (dict): A DCAL head config (e.g. :class:`DCALClsHead`).
        glca (dict, optional): :class:`GLCA` config; ``embed_dims``,
            ``num_heads``, ``drop_path_rate`` and ``with_cp`` default to the
            backbone's.
        pwca (dict, optional): :class:`PWCA` config; ``with_cp`` defaults to
            the backbone's, so ``backbone.with_cp=True`` checkpoints SA, GLCA
            and the PWCA stream.
        pretrained (str, optional): Whole-model checkpoint for ``init_cfg``.
        train_cfg (dict, optional): As in ``ImageClassifier``.
        data_preprocessor (dict, optional): As in ``ImageClassifier``.
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
            glca.setdefault('drop_path_rate', getattr(self.backbone, 'drop_path_rate', 0.))
            glca.setdefault('with_cp', getattr(self.backbone, 'with_cp', False))
            self.glca = MODELS.build(glca)
        self.pwca = None
        if pwca is not None:
            pwca = dict(pwca)
            pwca.setdefault('with_cp', getattr(self.backbone, 'with_cp', False))
            self.pwca = MODELS.build(pwca)
        for name, branch in (('glca', self.glca), ('pwca', self.pwca)):
            if getattr(self.head, f'with_{name}') != (branch is not None):
                raise ValueError(f'DCAL head.with_{name}={getattr(self.head, f"with_{name}")} does not match '
                                 f'{name}={"given" if branch is not None else "None"}')

    def init_weights(self) -> None:
        """Initialise, then start GLCA from the pretrained last SA block."""
        super().init_weights()
        if self.glca is not None and self.glca.init_from_backbone and self.backbone.pretrained_loaded:
            self.glca.init_from_block(self.backbone.blocks[-1], self.backbone.norm)

    def extract_feat(self, inputs: Tensor, stage: str = 'neck'):
        """Inference features.

        Args:
            inputs (Tensor): Images, shape (B, 3, H, W).
            stage (str): ``'backbone'`` returns the backbone tuple;
                ``'neck'`` returns the tuple of branch features, (SA, GLCA) or
                (SA, ) when the head predicts from SA only, each (B, C), which
                the DCAL heads take (as MMPretrain's ``FeatureExtractor``
                does); ``'pre_logits'`` returns the head's ``pre_logits`` of
                those, one (B, D) tensor: a Re-ID head's ``pred_feature`` (what
                ``tools/test.py`` evaluates), or the features an FGVC head
                classifies, concatenated.

        Returns:
            tuple | Tensor: See ``stage``.
        """
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'DCAL extract_feat stage must be backbone, neck or pre_logits, got {stage!r}')
        if stage == 'backbone':
            return self.backbone(inputs)
        use_glca = self.glca is not None and getattr(self.head, 'needs_glca', True)
        outs = self._backbone_outputs(self.backbone.embed(inputs), use_glca)
        feats = (outs[0], self.glca(outs)[0]) if use_glca else (outs[0], )
        return self.head.pre_logits(feats) if stage == 'pre_logits' else feats

    def _backbone_outputs(self, tokens: Tensor, use_glca: bool, return_qkv: bool = False) -> tuple:
        score_mode = self.glca.score_mode if use_glca else 'none'
        return self.backbone.forward_tokens(tokens, with_rollout=use_glca, score_mode=score_mode,
                                            return_qkv=return_qkv)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """SA, GLCA and PWCA branch losses.

        Args:
            inputs (Tensor): Images, shape (B, 3, H, W).
            data_samples (list[DataSample]): Their annotations.

        Returns:
            dict[str, Tensor]: Losses and logs.
        """
        if inputs.dim() != 4:
            raise ValueError(f'DCAL trains on image batches of shape (B, 3, H, W), got {tuple(inputs.shape)}')
        tokens = self.backbone.embed(inputs)
        outs = self._backbone_outputs(tokens, self.glca is not None, return_qkv=self.pwca is not None)
        if self.pwca is not None:
            outs, sa_qkv = outs
        glca = self.glca(outs)[0] if self.glca is not None else None
        pwca = None
        if self.pwca is not None:
            partners = draw_partners(inputs.shape[0], self._labels(data_samples), self.pwca.partner_policy)
            pwca = self.backbone.norm(self.pwca(self.backbone.blocks, tokens, sa_qkv, partners))[:, 0]
        return self.head.loss(DCALFeatures(outs[0], glca, pwca), data_samples)

    def _labels(self, data_samples: List[DataSample]) -> Optional[Tensor]:
        if self.pwca.partner_policy == 'random' or 'gt_label' not in data_samples[0]:
            return None
        return torch.cat([ds.gt_label for ds in data_samples])
