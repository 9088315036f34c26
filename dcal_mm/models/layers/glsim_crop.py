# Copyright (c) OpenMMLab. All rights reserved.
"""Global-local similarity crop of GLSim (Rios et al., ISCAS 2025).

Three steps, each a small function so they can be tested on their own:

1. :func:`global_local_similarity` - cosine similarity between the class
   token and every patch token;
2. :func:`patch_indices_to_boxes` - the pixel box around the selected patches
   (the official code's box, or the corrected one);
3. :func:`crop_and_resize` - crop each box and resize it (bilinear,
   ``align_corners=True``, as ``F.upsample_bilinear`` in the official code) to
   a fixed size, batched with ``F.grid_sample``.

Steps 1-2 carry no gradient (callers run them under ``torch.no_grad``); step
3 is differentiable with respect to the image but not the box.
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

BOX_MODES = ('official', 'corrected')


def global_local_similarity(tokens: Tensor, num_prefix_tokens: int = 1) -> Tensor:
    """Cosine similarity between the class token and each patch token.

    Args:
        tokens (Tensor): Encoder output after the final norm, shape
            (B, num_prefix_tokens + N, C); the class token is at index 0.
        num_prefix_tokens (int): Leading non-patch tokens. Defaults to 1.

    Returns:
        Tensor: Similarities, shape (B, N).
    """
    if tokens.dim() != 3:
        raise ValueError(f'global_local_similarity expects tokens of shape (B, 1 + N, C), got {tuple(tokens.shape)}')
    if tokens.shape[1] <= num_prefix_tokens:
        raise ValueError(f'global_local_similarity got {tokens.shape[1]} tokens, expected more than the '
                         f'{num_prefix_tokens} prefix token(s)')
    return F.cosine_similarity(tokens[:, :1], tokens[:, num_prefix_tokens:], dim=-1)


def patch_indices_to_boxes(indices: Tensor,
                           grid_size: Sequence[int],
                           img_size: Sequence[int],
                           mode: str = 'official',
                           validate: bool = True) -> Tensor:
    """Pixel box around the selected patches.

    Patch ``i`` lies at row ``i // grid_w`` and column ``i % grid_w`` (row-major,
    as ViT flattens the patch grid). With patch size ``(P_h, P_w)`` and the
    selected rows ``r`` and columns ``c``, the box starts at
    ``(min(c) * P_w, min(r) * P_h)`` and ends (exclusive) at

    * ``'official'`` (the GLSim code): ``min(max(max(r) * P_h, y0 + P_h), H)``
      and likewise for x - the box stops at the *start* of the last selected
      row/column, so those patches are left out unless the box would be less
      than one patch wide, in which case it is one patch;
    * ``'corrected'``: ``(max(r) + 1) * P_h`` - the end of the last selected
      patch, so every selected patch is inside the box.

    The official code assumes square images and grids; for those both give
    its boxes exactly. Non-square grids use the same rule per axis (our
    generalisation).

    Args:
        indices (Tensor): Selected patch indices, shape (B, O), integer.
        grid_size (Sequence[int]): Patch grid (grid_h, grid_w).
        img_size (Sequence[int]): Image (H, W); divisible by the grid.
        mode (str): ``'official'`` or ``'corrected'``.
        validate (bool): Check the index range (a device sync); callers
            whose indices come from ``topk`` over the grid may skip it.

    Returns:
        Tensor: Boxes ``(x0, y0, x1, y1)`` in pixels, end exclusive, shape
        (B, 4), dtype long.
    """
    if mode not in BOX_MODES:
        raise ValueError(f'patch_indices_to_boxes mode must be one of {BOX_MODES}, got {mode!r}')
    if indices.dim() != 2 or indices.shape[1] < 1:
        raise ValueError(f'patch_indices_to_boxes expects indices of shape (B, O) with O >= 1, '
                         f'got {tuple(indices.shape)}')
    if indices.dtype.is_floating_point or indices.dtype == torch.bool:
        raise ValueError(f'patch_indices_to_boxes expects integer indices, got dtype {indices.dtype}')
    grid_h, grid_w = (int(s) for s in grid_size)
    height, width = (int(s) for s in img_size)
    if height % grid_h or width % grid_w:
        raise ValueError(f'patch_indices_to_boxes img_size {(height, width)} is not divisible by the grid '
                         f'{(grid_h, grid_w)}')
    num_patches = grid_h * grid_w
    if validate and (int(indices.min()) < 0 or int(indices.max()) >= num_patches):
        raise ValueError(f'patch_indices_to_boxes indices must be in [0, {num_patches}), got values in '
                         f'[{int(indices.min())}, {int(indices.max())}]')
    patch_h, patch_w = height // grid_h, width // grid_w
    indices = indices.long()
    rows, cols = indices // grid_w, indices % grid_w
    y0, x0 = rows.amin(1) * patch_h, cols.amin(1) * patch_w
    if mode == 'official':
        y1 = torch.maximum(rows.amax(1) * patch_h, y0 + patch_h).clamp(max=height)
        x1 = torch.maximum(cols.amax(1) * patch_w, x0 + patch_w).clamp(max=width)
    else:
        y1 = (rows.amax(1) + 1) * patch_h
        x1 = (cols.amax(1) + 1) * patch_w
    return torch.stack([x0, y0, x1, y1], dim=1)


def crop_and_resize(images: Tensor, boxes: Tensor, size: Tuple[int, int], validate: bool = True) -> Tensor:
    """Crop ``images[b, :, y0:y1, x0:x1]`` and resize it to ``size``.

    Bilinear with ``align_corners=True``: output pixel ``j`` of a box of
    height ``h`` samples input row ``y0 + j * (h - 1) / (size_h - 1)``, which
    is what ``F.interpolate(crop, size, mode='bilinear', align_corners=True)``
    (``F.upsample_bilinear`` in the official code) computes on the cut-out
    crop. All samples lie inside the box, so the result equals the per-image
    crop + resize, done here for the whole batch in one ``F.grid_sample``.
    Gradients flow to ``images``; ``boxes`` are integer and get none.

    Args:
        images (Tensor): Images, shape (B, C, H, W).
        boxes (Tensor): ``(x0, y0, x1, y1)`` pixel boxes, end exclusive,
            shape (B, 4), inside the image and at least one pixel wide.
        size (tuple[int, int]): Output (height, width).
        validate (bool): Check the boxes' range (a device sync); callers
            whose boxes come from :func:`patch_indices_to_boxes` may skip it.

    Returns:
        Tensor: Crops, shape (B, C, size_h, size_w).
    """
    if images.dim() != 4:
        raise ValueError(f'crop_and_resize expects images of shape (B, C, H, W), got {tuple(images.shape)}')
    batch, _, height, width = images.shape
    if boxes.shape != (batch, 4):
        raise ValueError(f'crop_and_resize expects boxes of shape ({batch}, 4), got {tuple(boxes.shape)}')
    out_h, out_w = (int(s) for s in size)
    if out_h < 2 or out_w < 2 or height < 2 or width < 2:
        raise ValueError(f'crop_and_resize needs images and output size of at least 2x2, got image '
                         f'{(height, width)} and size {(out_h, out_w)}')
    # the sampling grid is built in float64: float32 rounding of the normalised coordinates shifts samples by
    # ~1e-6 px, visible as ~1e-5 differences from the cut-out-and-resize result
    x0, y0, x1, y1 = boxes.detach().to(torch.float64).unbind(1)
    if validate and bool(((x0 < 0) | (y0 < 0) | (x1 > width) | (y1 > height) | (x1 <= x0) | (y1 <= y0)).any()):
        raise ValueError(f'crop_and_resize boxes must satisfy 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}, '
                         f'got {boxes.tolist()}')
    steps_y = torch.linspace(0, 1, out_h, device=images.device, dtype=torch.float64)
    steps_x = torch.linspace(0, 1, out_w, device=images.device, dtype=torch.float64)
    src_y = y0[:, None] + steps_y[None] * (y1 - y0 - 1)[:, None]  # (B, out_h) input rows
    src_x = x0[:, None] + steps_x[None] * (x1 - x0 - 1)[:, None]  # (B, out_w) input columns
    grid_y = (src_y * (2 / (height - 1)) - 1)[:, :, None].expand(batch, out_h, out_w)
    grid_x = (src_x * (2 / (width - 1)) - 1)[:, None, :].expand(batch, out_h, out_w)
    grid = torch.stack([grid_x, grid_y], dim=-1).to(images.dtype)
    # 'border' only guards against rounding at the last row/column of the image
    return F.grid_sample(images, grid, mode='bilinear', padding_mode='border', align_corners=True)
