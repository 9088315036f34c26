# Copyright (c) OpenMMLab. All rights reserved.
from functools import partial
from typing import Optional, Sequence, Tuple, Union

import timm
import torch
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS
from timm.models.vision_transformer import VisionTransformer
from timm.models.vision_transformer_hybrid import ConvStem
from torch import Tensor

from ..layers import DCALBlock, attention_rollout_cls
from ..layers.attention import attention_map, map_in_one_pass
from ..utils import checkpointed, load_pretrained_vit

# arch -> timm model (same weights names, so timm files load as they are)
TIMM_ARCHS = {
    'deit-tiny': 'deit_tiny_patch16_224',
    'deit-small': 'deit_small_patch16_224',
    'deit-base': 'deit_base_patch16_224',
    'vit-base': 'vit_base_patch16_224',  # ImageNet-21k weights: vit_base_patch16_224.orig_in21k
    'r50-vit-base': 'vit_base_r50_s16_224',  # hybrid; ImageNet-21k weights: .orig_in21k
}


def _to_2tuple(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (size, size) if isinstance(size, int) else tuple(size)


def _block_with_drop_path(drop_path_rate: float, **kwargs) -> DCALBlock:
    """A block with ``drop_path_rate`` whatever timm's rule gave it."""
    kwargs['drop_path'] = drop_path_rate
    return DCALBlock(**kwargs)


@MODELS.register_module()
class DCALViT(BaseBackbone):
    """Vision Transformer with the attention rollout that DCAL's GLCA needs.

    The SA branch is a standard pre-norm ViT built from timm's blocks, so its
    parameter names are timm's and ``forward_features`` equals timm's. With
    ``with_rollout=True`` the first ``rollout_depth`` blocks also return their
    head-averaged attention maps, from which the CLS row of the rollout
    (Eq. 2) is computed; the hidden tokens after those blocks are what GLCA
    reads.

    Args:
        arch (str | dict): One of ``deit-tiny``, ``deit-small``,
            ``deit-base``, ``vit-base`` and ``r50-vit-base``, or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads`` and optional
            ``patch_size`` (16), ``mlp_ratio`` (4.0) and ``conv_stem``: a
            list of channel widths for a stack of 3x3 stride-2 convolutions
            (BN + ReLU, timm's ``ConvStem``) followed by a 1x1 projection,
            replacing the patchify convolution ("early convolutions", Xiao et
            al. 2021); its stride 2^len must equal ``patch_size``. Small
            models trained from scratch on little data (the demos) learn far
            better with it.
        img_size (int | tuple[int, int]): Input (H, W), e.g. 448 or (256, 128).
            Must be divisible by the patch size (16 for the hybrid's stride).
        drop_rate (float): Dropout after the position embedding.
        attn_drop_rate (float): Dropout on attention probabilities.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.1.
        drop_path_mode (str): ``'linear'``: the rate rises linearly from 0 in
            the first block to ``drop_path_rate`` in the last (timm's rule,
            default); ``'uniform'``: ``drop_path_rate`` in every block (the
            official GLSim code).
        with_rollout (bool): Output the GLCA input tokens and rollout row.
        rollout_depth (int, optional): Number of leading blocks in the rollout;
            GLCA reads the tokens after them. Defaults to ``num_layers - 1``
            (GLCA parallel to the last block, our reading of the paper);
            ``num_layers`` puts GLCA after the last block.
        out_type (str): ``'cls_token'`` (B, C) or ``'raw'`` (B, N, C) for the
            first output, both after the final norm.
        with_cp (bool): Gradient checkpointing: each block keeps only its
            input (and the keys/values/queries it returns for PWCA) and is
            recomputed in the backward pass. Outputs and gradients are
            unchanged (stochastic depth replays its random state). Where a
            rollout block's map comes from the same pass as its attention
            output (CPU), the recomputation makes it again at no extra cost;
            elsewhere (GPU) the map is a separate product, made once outside
            the checkpoint. Only used when gradients are enabled.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH)``
            loads a timm checkpoint (.pth/.safetensors/.npz) with position
            embeddings resampled to ``img_size``; an optional ``prefix`` selects
            a sub-module of a bigger checkpoint (e.g. ``'backbone.'``).
        pos_embed_interp (str): How a pretrained position embedding is
            resampled to ``img_size``: ``'bicubic'`` (timm's, default) or
            ``'linear'`` (the official GLSim code's); see
            :func:`dcal_mm.models.utils.timm_checkpoint.resample_pos_embed`.

    Outputs of :meth:`forward`, a tuple:
        - SA feature: class token (B, C) or tokens (B, N, C), normalised.
        - with rollout: GLCA input tokens (B, N, C), not normalised.
        - with rollout: CLS row of the rollout (B, N), no gradient.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'deit-tiny',
                 img_size: Union[int, Sequence[int]] = 448,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 with_rollout: bool = False,
                 rollout_depth: Optional[int] = None,
                 out_type: str = 'cls_token',
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None,
                 drop_path_mode: str = 'linear',
                 pos_embed_interp: str = 'bicubic') -> None:
        super().__init__(init_cfg=init_cfg)
        if drop_path_mode not in ('linear', 'uniform'):
            raise ValueError(f"DCALViT drop_path_mode must be 'linear' or 'uniform', got {drop_path_mode!r}")
        self.pos_embed_interp = pos_embed_interp
        self.img_size = _to_2tuple(img_size)
        if out_type not in ('cls_token', 'raw'):
            raise ValueError(f"DCALViT out_type must be 'cls_token' or 'raw', got {out_type!r}")
        self.out_type = out_type
        self.arch = arch
        common = dict(
            num_classes=0, img_size=self.img_size, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate, block_fn=DCALBlock)
        if drop_path_mode == 'uniform':  # timm passes each block its linear rate; override it
            common['block_fn'] = partial(_block_with_drop_path, drop_path_rate=drop_path_rate)
        vit = self._build_timm_vit(arch, common)
        # Adopt timm's modules directly so the keys are timm's (no prefix).
        self.patch_embed = vit.patch_embed
        self.cls_token = vit.cls_token
        self.pos_embed = vit.pos_embed
        self.pos_drop = vit.pos_drop
        self.norm_pre = vit.norm_pre
        self.blocks = vit.blocks
        self.norm = vit.norm
        self.num_prefix_tokens = 1
        self.embed_dims = vit.embed_dim
        self.num_heads = self.blocks[0].attn.num_heads
        self.num_layers = len(self.blocks)
        self.with_rollout = with_rollout
        self.with_cp = with_cp
        self.drop_path_rate = drop_path_rate
        self.rollout_depth = self.num_layers - 1 if rollout_depth is None else rollout_depth
        if not 1 <= self.rollout_depth <= self.num_layers:
            raise ValueError(f'DCALViT rollout_depth must be in [1, {self.num_layers}], got {self.rollout_depth}')
        self.pretrained_loaded = False

    def _build_timm_vit(self, arch: Union[str, dict], common: dict) -> VisionTransformer:
        if isinstance(arch, str):
            if arch not in TIMM_ARCHS:
                raise ValueError(f'DCALViT arch {arch!r} is not one of {sorted(TIMM_ARCHS)} (or pass a dict)')
            stride = 16
            self.timm_name = TIMM_ARCHS[arch]
        else:
            missing = {'embed_dims', 'num_layers', 'num_heads'} - set(arch)
            if missing:
                raise ValueError(f'DCALViT arch dict lacks keys {sorted(missing)}')
            stride = arch.get('patch_size', 16)
            self.timm_name = None
        if self.img_size[0] % stride or self.img_size[1] % stride:
            raise ValueError(f'DCALViT img_size {self.img_size} is not divisible by the patch size {stride}')
        if isinstance(arch, str):
            return timm.create_model(self.timm_name, pretrained=False, **common)
        vit = VisionTransformer(
            patch_size=stride, embed_dim=arch['embed_dims'], depth=arch['num_layers'], num_heads=arch['num_heads'],
            mlp_ratio=arch.get('mlp_ratio', 4.), qkv_bias=True, **common)
        if arch.get('conv_stem'):
            widths = tuple(arch['conv_stem'])
            if 2**len(widths) != stride:
                raise ValueError(f'DCALViT conv_stem {list(widths)} has stride {2**len(widths)}, but patch_size is '
                                 f'{stride}: use {stride.bit_length() - 1} stride-2 convolutions')
            # same token grid as the patchify convolution it replaces, so the position embedding is unchanged
            n = len(widths)
            vit.patch_embed.proj = ConvStem(
                depth=n + 1, channels=widths + (arch['embed_dims'], ), kernel_size=(3, ) * n + (1, ),
                stride=(2, ) * n + (1, ), padding=(1, ) * n + (0, ))
        return vit

    def init_weights(self) -> None:
        """Load ``init_cfg`` Pretrained weights through the timm adapter;
        timm's own initialisation is kept otherwise."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            model_for_npz = None
            if cfg['checkpoint'].endswith('.npz'):
                common = dict(num_classes=0, img_size=self.img_size)
                model_for_npz = self._build_timm_vit(self.arch, common)
            load_pretrained_vit(
                self, cfg['checkpoint'], model_for_npz, prefix=cfg.get('prefix'), interpolation=self.pos_embed_interp)
            self.pretrained_loaded = True
            self._is_init = True
        elif cfg is not None:
            super().init_weights()

    def embed(self, x: Tensor) -> Tensor:
        """Patch embedding + class token + position embedding.

        Args:
            x (Tensor): Images, shape (B, 3, H, W) with (H, W) == img_size.

        Returns:
            Tensor: Tokens, shape (B, 1 + N, C).
        """
        if tuple(x.shape[-2:]) != self.img_size:
            raise ValueError(f'DCALViT was built for inputs of size {self.img_size}, got {tuple(x.shape[-2:])}; '
                             'set img_size in the backbone config to the pipeline crop size')
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.norm_pre(self.pos_drop(x))

    def forward_features(self, x: Tensor) -> Tensor:
        """All tokens after the final norm, as timm's ``forward_features``.

        Args:
            x (Tensor): Images, shape (B, 3, H, W).

        Returns:
            Tensor: Shape (B, 1 + N, C).
        """
        x = self.embed(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_tokens(self,
                       x: Tensor,
                       with_rollout: Optional[bool] = None,
                       score_mode: str = 'rollout',
                       return_qkv: bool = False) -> tuple:
        """Run the blocks on embedded tokens.

        Args:
            x (Tensor): Embedded tokens from :meth:`embed`, (B, 1 + N, C).
            with_rollout (bool, optional): Override ``self.with_rollout``, e.g.
                False for SA-only inference at the baseline's cost.
            score_mode (str): How the token scores (third output) are made:
                ``'rollout'`` (Eq. 2, over the first ``rollout_depth``
                blocks), ``'last'`` (CLS row of the head-averaged attention of
                block ``rollout_depth`` alone: the paper's "penultimate layer"
                ablation) or ``'none'`` (no attention maps; the scores are
                None, e.g. for random GLCA queries).
            return_qkv (bool): Also return every block's (q, k, v), what PWCA
                reads (partner keys/values, first-block projections).

        Returns:
            tuple: See the class docstring; with ``return_qkv`` a pair
            ``(outputs, qkv)`` where ``qkv`` holds one (q, k, v) per block,
            each (B, heads, 1 + N, C / heads).
        """
        if score_mode not in ('rollout', 'last', 'none'):
            raise ValueError(f"DCALViT score_mode must be 'rollout', 'last' or 'none', got {score_mode!r}")
        with_rollout = self.with_rollout if with_rollout is None else with_rollout
        first_map = self.rollout_depth - 1 if score_mode == 'last' else 0
        need_map = with_rollout and score_mode != 'none'
        attn_maps, qkvs, glca_in = [], [], None
        for i, blk in enumerate(self.blocks):
            if i == self.rollout_depth:
                glca_in = x
            want_map = need_map and first_map <= i < self.rollout_depth
            if self.with_cp and torch.is_grad_enabled() and x.requires_grad:
                if want_map and map_in_one_pass(blk.attn, x):  # the recomputation makes the map again, at no cost
                    x, attn, qkv = checkpointed(blk, x, True, fn=blk.forward_sa)
                else:  # a separate product: made once, outside the checkpoint
                    x, _, qkv = checkpointed(blk, x, fn=blk.forward_sa)
                    attn = attention_map(blk.attn, qkv[0], qkv[1]) if want_map else None
            else:
                x, attn, qkv = blk.forward_sa(x, return_attn=want_map)
            if attn is not None:
                attn_maps.append(attn)
            if return_qkv:
                qkvs.append(qkv)
        if glca_in is None:  # rollout_depth == num_layers: GLCA after the last block
            glca_in = x
        x = self.norm(x)
        outs = (x[:, 0] if self.out_type == 'cls_token' else x, )
        if with_rollout:
            if score_mode == 'rollout':
                scores = attention_rollout_cls(attn_maps)
            else:
                scores = attn_maps[0][:, 0] if score_mode == 'last' else None
            del attn_maps
            outs = outs + (glca_in, scores)
        return (outs, qkvs) if return_qkv else outs

    def forward(self, x: Tensor) -> tuple:
        """
        Args:
            x (Tensor): Images, shape (B, 3, H, W).

        Returns:
            tuple: See the class docstring.
        """
        return self.forward_tokens(self.embed(x))
