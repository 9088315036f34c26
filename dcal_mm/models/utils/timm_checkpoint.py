# Copyright (c) OpenMMLab. All rights reserved.
"""Reading timm / DeiT / JAX ViT checkpoints into :class:`DCALViT`."""
import math
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed
from torch import Tensor, nn

from dcal_mm.utils import load_local_checkpoint

# Wrappers used by DeiT ('model'), MMEngine ('state_dict') and others.
_WRAPPER_KEYS = ('state_dict', 'model', 'state_dict_ema', 'model_ema')
# Prefixes of our own checkpoints / DDP that precede timm's names.
_PREFIXES = ('module.', 'backbone.')
# timm classifier parts that a backbone has no use for.
_HEAD_PREFIXES = ('head.', 'head_dist.', 'fc_norm.', 'pre_logits.', 'dist_token')
POS_EMBED_INTERPOLATIONS = ('bicubic', 'linear')


def resample_pos_embed(pos_embed: Tensor, grid_size: Tuple[int, int], num_prefix_tokens: int = 1,
                       interpolation: str = 'bicubic') -> Tensor:
    """Resample a square ViT position embedding to another patch grid.

    Args:
        pos_embed (Tensor): Shape (1, prefix + S * S, C).
        grid_size (tuple[int, int]): Target grid (H, W).
        num_prefix_tokens (int): Tokens before the patches (1: CLS), kept.
        interpolation (str): ``'bicubic'``: timm's ``resample_abs_pos_embed``
            (bicubic, corners not aligned). ``'linear'``: linear
            interpolation with the corner patches aligned, i.e.
            ``scipy.ndimage.zoom(order=1)`` as in the original JAX ViT code
            (the official GLSim code resizes linearly).

    Returns:
        Tensor: Shape (1, prefix + H * W, C).
    """
    if interpolation not in POS_EMBED_INTERPOLATIONS:
        raise ValueError(f'pos_embed interpolation must be one of {POS_EMBED_INTERPOLATIONS}, got {interpolation!r}')
    if interpolation == 'bicubic':
        return resample_abs_pos_embed(pos_embed.float(), new_size=list(grid_size), num_prefix_tokens=num_prefix_tokens)
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:].float()
    side = math.isqrt(grid.shape[1])
    if side * side != grid.shape[1]:
        raise ValueError(f'pos_embed has {grid.shape[1]} patch positions, not a square grid')
    grid = grid.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(grid_size), mode='bilinear', align_corners=True)
    grid = grid.permute(0, 2, 3, 1).reshape(1, grid_size[0] * grid_size[1], -1)
    return torch.cat([prefix.to(grid.dtype), grid], dim=1)


def read_state_dict(path: str, model_for_npz: nn.Module = None) -> Dict[str, Tensor]:
    """Read a checkpoint file as timm saves it: ``.pth``/``.pt``/``.bin``,
    ``.safetensors`` or a JAX ``.npz``.

    Args:
        path (str): Local file path.
        model_for_npz (nn.Module, optional): A timm ``VisionTransformer`` of
            the same architecture, required for ``.npz`` files (timm's own
            ``_load_weights`` fills it).

    Returns:
        dict: The state dict, unwrapped from ``state_dict``/``model`` keys.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'pretrained checkpoint {path} does not exist')
    if path.endswith('.npz'):
        if model_for_npz is None:
            raise ValueError(f'{path}: reading a .npz checkpoint needs a timm model of the same architecture')
        from timm.models.vision_transformer import _load_weights
        _load_weights(model_for_npz, path)
        return model_for_npz.state_dict()
    ckpt = load_local_checkpoint(path, map_location='cpu')
    for key in _WRAPPER_KEYS:
        if isinstance(ckpt, dict) and key in ckpt and isinstance(ckpt[key], dict):
            ckpt = ckpt[key]
            break
    if not isinstance(ckpt, dict):
        raise ValueError(f'{path}: expected a state dict, got {type(ckpt).__name__}')
    return ckpt


def checkpoint_filter_fn(state_dict: Dict[str, Tensor], grid_size: Tuple[int, int], num_prefix_tokens: int = 1,
                         interpolation: str = 'bicubic') -> Dict[str, Tensor]:
    """Adapt a timm-style ViT state dict to a DCALViT backbone.

    Strips ``module.``/``backbone.`` prefixes, drops classifier heads, and
    resamples ``pos_embed`` (bicubic as timm does, or linear) to
    ``grid_size``, e.g. 14x14 -> 28x28 for 448x448 inputs or 16x8 for
    256x128.

    Args:
        state_dict (dict): Source weights with timm names.
        grid_size (tuple[int, int]): Patch grid (H, W) of the target model.
        num_prefix_tokens (int): Tokens before the patches (1: CLS).
        interpolation (str): See :func:`resample_pos_embed`.

    Returns:
        dict: Weights ready for ``DCALViT.load_state_dict``.
    """
    out = {}
    for key, value in state_dict.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        if key.startswith(_HEAD_PREFIXES):
            continue
        if key == 'pos_embed' and value.shape[1] != grid_size[0] * grid_size[1] + num_prefix_tokens:
            value = resample_pos_embed(value, grid_size, num_prefix_tokens, interpolation)
        out[key] = value
    return out


def load_pretrained_vit(model: nn.Module, path: str, model_for_npz: nn.Module = None,
                        prefix: Optional[str] = None, interpolation: str = 'bicubic') -> None:
    """Load a timm-style checkpoint into ``model`` and fail loudly on mismatch.

    Args:
        model (nn.Module): A :class:`DCALViT`.
        path (str): Local checkpoint path (.pth, .pt, .bin, .safetensors, .npz).
        model_for_npz (nn.Module, optional): See :func:`read_state_dict`.
        prefix (str, optional): Keep only the keys under this prefix (e.g.
            ``'backbone.'`` of a whole-model checkpoint) and strip it.
        interpolation (str): Position-embedding resampling, see
            :func:`resample_pos_embed`.
    """
    state_dict = read_state_dict(path, model_for_npz)
    if prefix:
        state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not state_dict:
            raise ValueError(f'{path} has no keys under the prefix {prefix!r}')
    state_dict = checkpoint_filter_fn(state_dict, model.patch_embed.grid_size, model.num_prefix_tokens, interpolation)
    own = model.state_dict()
    shape_errors = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}' for k, v in state_dict.items()
                    if k in own and own[k].shape != v.shape]
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing or unexpected or shape_errors:
        raise ValueError(f'{path} does not match {type(model).__name__}: missing keys {missing}, '
                         f'unexpected keys {unexpected}, shape mismatches {shape_errors}')
    with torch.no_grad():
        model.load_state_dict(state_dict, strict=True)
