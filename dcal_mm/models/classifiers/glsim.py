# Copyright (c) OpenMMLab. All rights reserved.
from functools import partial
from typing import NamedTuple, Optional, Tuple

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ..layers import DCALBlock, crop_and_resize, global_local_similarity, patch_indices_to_boxes
from ..layers.glsim_crop import BOX_MODES


class GLSimOutputs(NamedTuple):
    """Intermediate results of one GLSim forward.

    Attributes:
        feat (Tensor): Aggregated class token of the original image, (B, C).
        tokens (Tensor): First-pass tokens after the final norm, (B, 1 + N, C).
        crop_tokens (Tensor): Second-pass (crop) tokens, (B, 1 + N, C).
        similarity (Tensor): Class-patch cosine similarity, (B, N), no grad.
        indices (Tensor): Selected patch indices, (B, O), no grad.
        boxes (Tensor): Crop boxes ``(x0, y0, x1, y1)`` in pixels, end
            exclusive, (B, 4), long.
        crops (Tensor): Crops resized to the input size, (B, 3, H, W).
    """
    feat: Tensor
    tokens: Tensor
    crop_tokens: Tensor
    similarity: Tensor
    indices: Tensor
    boxes: Tensor
    crops: Tensor


def _official_linear_init(module: nn.Module) -> None:
    # the GLSim code initialises its Transformer this way (xavier-uniform, bias N(0, 1e-6))
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.normal_(module.bias, std=1e-6)


@MODELS.register_module()
class GLSim(ImageClassifier):
    """GLSim: Global-Local Similarity for fine-grained recognition with ViTs
    (Rios, Hu, Lai, ISCAS 2025, arXiv 2407.12891).

    Forward (training and inference alike, about two backbone passes):

    1. the backbone encodes the image; its tokens after the final norm give
       the cosine similarity of the class token to every patch token;
    2. the ``num_selected`` (O) most similar patches define a box (no
       gradient), which is cropped from the input tensor and resized
       (bilinear) to the input size;
    3. the same backbone encodes the crop;
    4. an aggregator - ``aggregator_depth`` pre-norm transformer blocks and a
       LayerNorm - mixes the two class tokens;
    5. the head classifies the original image's slot. One loss (the head's,
       label-smoothed cross-entropy in the configs) on those logits.

    The backbone, the crop pass and the aggregator all receive gradients;
    the similarity, the patch selection and the box do not.

    Args:
        backbone (dict): A :class:`DCALViT` config; ``out_type`` defaults to
            (and must be) ``'raw'`` and ``with_rollout`` to False.
        head (dict): A head reading a tuple whose last item is the (B, C)
            feature, e.g. mmpretrain's ``LinearClsHead``.
        num_selected (int): O, the number of most similar patches that span
            the crop box (``dynamic_top`` in the official code). Defaults to 8.
        box_mode (str): ``'official'`` (default) reproduces the official
            code's box, which ends at the *start* of the last selected patch
            row/column, so the published results and recipe match;
            ``'corrected'`` ends it at the end of the last selected patch.
            See :func:`patch_indices_to_boxes`.
        separate_crop_cls_token (bool): Give the crop pass its own class
            token, initialised as a copy of the backbone's (the later timm
            port of the official code). Defaults to False: the crop pass
            reuses the backbone's class token, as the paper's ``ViTGLSim``.
        aggregator_depth (int): Number of aggregator blocks. Defaults to 1.
        aggregator_cfg (dict, optional): Extra :class:`DCALBlock` (timm
            ``Block``) arguments of the aggregator blocks. Defaults:
            ``num_heads`` = backbone's (12 for ViT-B, = 768 / 64 as in the
            official code), ``mlp_ratio=4``, ``qkv_bias=True``,
            ``drop_path=0.1`` (the official code uses its stochastic depth
            rate in the aggregator too), LayerNorm eps 1e-6 (timm's ViT;
            the official code uses 1e-12). The blocks are initialised as in
            the official code: xavier-uniform weights, biases N(0, 1e-6).
        pretrained (str, optional): Whole-model checkpoint for ``init_cfg``.
        train_cfg (dict, optional): As in ``ImageClassifier``.
        data_preprocessor (dict, optional): As in ``ImageClassifier``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 num_selected: int = 8,
                 box_mode: str = 'official',
                 separate_crop_cls_token: bool = False,
                 aggregator_depth: int = 1,
                 aggregator_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if box_mode not in BOX_MODES:
            raise ValueError(f'GLSim box_mode must be one of {BOX_MODES}, got {box_mode!r}')
        if isinstance(num_selected, bool) or not isinstance(num_selected, int):
            raise ValueError(f'GLSim num_selected must be an int, got {num_selected!r}')
        if isinstance(aggregator_depth, bool) or not isinstance(aggregator_depth, int) or aggregator_depth < 1:
            raise ValueError(f'GLSim aggregator_depth must be an int >= 1, got {aggregator_depth!r}')
        if isinstance(backbone, dict):
            backbone = dict(backbone)
            backbone.setdefault('out_type', 'raw')
            backbone.setdefault('with_rollout', False)
        super().__init__(
            backbone=backbone,
            head=head,
            pretrained=pretrained,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        for attr in ('embed', 'forward_tokens', 'patch_embed', 'img_size'):
            if not hasattr(self.backbone, attr):
                raise ValueError(f'GLSim needs a DCALViT-like backbone (missing {attr!r}), got '
                                 f'{type(self.backbone).__name__}')
        if getattr(self.backbone, 'out_type', None) != 'raw':
            raise ValueError(f"GLSim needs backbone out_type='raw' (all tokens), got "
                             f'{getattr(self.backbone, "out_type", None)!r}')
        if getattr(self.backbone, 'with_rollout', False):
            raise ValueError('GLSim needs backbone with_rollout=False (it does not use the rollout)')
        self.grid_size = tuple(int(s) for s in self.backbone.patch_embed.grid_size)
        num_patches = self.grid_size[0] * self.grid_size[1]
        if not 1 <= num_selected <= num_patches:
            raise ValueError(f'GLSim num_selected (O) must be in [1, {num_patches}] (the number of patches of '
                             f'the {self.grid_size[0]}x{self.grid_size[1]} grid), got {num_selected}')
        self.num_selected = num_selected
        self.box_mode = box_mode

        embed_dims = self.backbone.embed_dims
        block_cfg = dict(
            dim=embed_dims,
            num_heads=self.backbone.num_heads,
            mlp_ratio=4.,
            qkv_bias=True,
            drop_path=0.1,
            norm_layer=partial(nn.LayerNorm, eps=1e-6))
        block_cfg.update(aggregator_cfg or {})
        if block_cfg['dim'] != embed_dims:
            raise ValueError(f'GLSim aggregator_cfg dim must equal the backbone width {embed_dims}, '
                             f'got {block_cfg["dim"]}')
        self.aggregator = nn.Sequential(*[DCALBlock(**block_cfg) for _ in range(aggregator_depth)])
        self.aggregator.apply(_official_linear_init)
        self.aggregator_norm = nn.LayerNorm(embed_dims, eps=1e-6)

        self.crop_cls_token = None
        if separate_crop_cls_token:
            self.crop_cls_token = nn.Parameter(self.backbone.cls_token.detach().clone())

    def init_weights(self) -> None:
        """Initialise; a separate crop class token restarts from the
        (pretrained) backbone class token."""
        super().init_weights()
        if self.crop_cls_token is not None and getattr(self.backbone, 'pretrained_loaded', False):
            with torch.no_grad():
                self.crop_cls_token.copy_(self.backbone.cls_token)

    def _embed_crops(self, crops: Tensor) -> Tensor:
        if self.crop_cls_token is None:
            return self.backbone.embed(crops)
        bb = self.backbone
        x = bb.patch_embed(crops)
        x = torch.cat([self.crop_cls_token.expand(x.shape[0], -1, -1), x], dim=1) + bb.pos_embed
        return bb.norm_pre(bb.pos_drop(x))

    @torch.no_grad()
    def select_boxes(self, tokens: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Similarity, top-O patch indices and crop boxes (no gradient).

        Args:
            tokens (Tensor): Tokens after the final norm, (B, 1 + N, C).

        Returns:
            tuple[Tensor, Tensor, Tensor]: Similarity (B, N), indices (B, O)
            and boxes (B, 4) as in :class:`GLSimOutputs`.
        """
        num_patches = self.grid_size[0] * self.grid_size[1]
        if tokens.dim() != 3 or tokens.shape[1] != 1 + num_patches:
            raise ValueError(f'GLSim expects tokens of shape (B, {1 + num_patches}, C), got {tuple(tokens.shape)}')
        similarity = global_local_similarity(tokens)
        indices = similarity.topk(self.num_selected, dim=1).indices
        boxes = patch_indices_to_boxes(indices, self.grid_size, self.backbone.img_size, self.box_mode, validate=False)
        return similarity, indices, boxes

    def forward_glsim(self, inputs: Tensor) -> GLSimOutputs:
        """The full GLSim forward with its intermediate results.

        Args:
            inputs (Tensor): Normalised images, (B, 3, H, W) with (H, W) the
                backbone's ``img_size``.

        Returns:
            GLSimOutputs: See its docstring.
        """
        if inputs.dim() != 4:
            raise ValueError(f'GLSim expects images of shape (B, 3, H, W), got {tuple(inputs.shape)}')
        tokens = self.backbone(inputs)[0]
        similarity, indices, boxes = self.select_boxes(tokens)
        crops = crop_and_resize(inputs, boxes, self.backbone.img_size, validate=False)
        crop_tokens = self.backbone.forward_tokens(self._embed_crops(crops))[0]
        pair = torch.stack([tokens[:, 0], crop_tokens[:, 0]], dim=1)  # (B, 2, C)
        feat = self.aggregator_norm(self.aggregator(pair))[:, 0]
        return GLSimOutputs(feat, tokens, crop_tokens, similarity, indices, boxes, crops)

    def extract_feat(self, inputs: Tensor, stage: str = 'neck'):
        """Features for the head.

        Args:
            inputs (Tensor): Images, (B, 3, H, W).
            stage (str): ``'backbone'``: the backbone's tuple for the image
                (tokens (B, 1 + N, C)); ``'neck'``: a 1-tuple with the
                aggregated original-image class token (B, C);
                ``'pre_logits'``: the head's ``pre_logits`` of that.

        Returns:
            tuple | Tensor: See ``stage``.
        """
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'GLSim extract_feat stage must be backbone, neck or pre_logits, got {stage!r}')
        if stage == 'backbone':
            return self.backbone(inputs)
        feats = (self.forward_glsim(inputs).feat, )
        if stage == 'pre_logits':
            return self.head.pre_logits(feats)
        return feats
