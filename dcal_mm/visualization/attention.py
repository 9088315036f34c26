# Copyright (c) OpenMMLab. All rights reserved.
"""Attention pictures of every method from the models' public modules: the
attention rollout of any ViT backbone (SA-only too), the patches GLCA
selects, GLSim's crop box, RGA's spatial attention and CLAN's cross-layer
spatial maps (CLSA)."""
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor, nn

PATCH_COLOR = (0, 255, 0)  # BGR
BOX_COLOR = (0, 255, 255)


def _rollout(model: nn.Module, inputs: Tensor) -> Tensor:
    backbone = model.backbone
    outs = backbone.forward_tokens(backbone.embed(inputs), with_rollout=True)
    return outs[2]


def _hook_maps(modules: List[nn.Module], fn: Callable) -> Tuple[List[Tensor], list]:
    """Run ``fn`` on the inputs of each module during the next forward."""
    maps = [None] * len(modules)

    def make_hook(i):
        return lambda module, args: maps.__setitem__(i, fn(module, *args))

    return maps, [m.register_forward_pre_hook(make_hook(i)) for i, m in enumerate(modules)]


def load_view(model: nn.Module, pipeline: Callable, path: str) -> Tuple[Tensor, np.ndarray]:
    """An image through the test pipeline and the model's preprocessor.

    Args:
        model (nn.Module): The model (its ``data_preprocessor`` is used).
        pipeline (Callable): The test pipeline, from ``LoadImageFromFile`` on.
        path (str): Image file.

    Returns:
        tuple[Tensor, np.ndarray]: The model input (1, 3, H, W) and the view
        the model sees, BGR uint8 (H, W, 3).
    """
    from mmengine.dataset import pseudo_collate
    if cv2.imread(path) is None:
        raise ValueError(f'{path} is not a readable image')
    packed = pipeline(dict(img_path=path))
    view = packed['inputs'].permute(1, 2, 0).numpy().astype(np.uint8).copy()
    return model.data_preprocessor(pseudo_collate([packed]), False)['inputs'], view


@torch.no_grad()
def attention_maps(model: nn.Module, inputs: Tensor) -> Dict[str, Tensor]:
    """The attention pictures a model supports, for a batch of normalised
    images (the model's ``data_preprocessor`` output).

    Keys (present when the model has the part):

    - ``'rollout'``: (B, h, w) CLS row of the attention rollout over the
      patches (a ViT backbone with ``forward_tokens``: DCAL, its SA baseline,
      GLSim), over the blocks DCAL's rollout uses.
    - ``'glca'``: (B, h, w) bool, the patches GLCA selects as local queries
      (by its own token scores: rollout, or the last block's attention;
      absent for random queries).
    - ``'glsim_box'``: (B, 4) the crop box ``(x0, y0, x1, y1)`` in pixels.
    - ``'rga_spatial_<s>'``: (B, h, w) RGA spatial attention after stage s.
    - ``'clan_clsa_<i>'``: (B, h, w) CLAN's spatial map from mid level i.

    Args:
        model (nn.Module): A dcal_mm classifier.
        inputs (Tensor): (B, 3, H, W).

    Returns:
        dict[str, Tensor]: See above; empty if the model has none of them.
    """
    maps = OrderedDict()
    backbone = getattr(model, 'backbone', None)
    if hasattr(backbone, 'forward_tokens') and hasattr(backbone, 'embed'):
        rollout = _rollout(model, inputs)
        grid = tuple(backbone.patch_embed.grid_size)
        maps['rollout'] = rollout[:, 1:].reshape(-1, *grid)
        glca = getattr(model, 'glca', None)
        score_mode = getattr(glca, 'score_mode', 'rollout')
        if glca is not None and score_mode != 'none':  # random queries have no picture
            scores = rollout if score_mode == 'rollout' else backbone.forward_tokens(
                backbone.embed(inputs), with_rollout=True, score_mode=score_mode)[2]
            mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, glca.select(scores), True)[:, 1:]
            maps['glca'] = mask.reshape(-1, *grid)
    if hasattr(model, 'forward_glsim'):
        maps['glsim_box'] = model.forward_glsim(inputs).boxes
    hooked = []
    if hasattr(backbone, 'rga_modules'):
        spatial = [(s, m.spatial) for s, m in enumerate(backbone.rga_modules, 1) if m.spatial is not None]
        rga, handles = _hook_maps([m for _, m in spatial], lambda m, x: m.attention(x)[:, 0])
        hooked.append(([f'rga_spatial_{s}' for s, _ in spatial], rga, handles))
    neck = getattr(model, 'neck', None)
    if hasattr(neck, 'clsa'):
        clsa, handles = _hook_maps(list(neck.clsa), lambda m, mid, top: m.spatial_map(mid, top.shape[-2:])[:, 0])
        hooked.append(([f'clan_clsa_{i}' for i in range(1, len(neck.clsa) + 1)], clsa, handles))
    if hooked:
        try:
            model.extract_feat(inputs)
        finally:
            for _, _, handles in hooked:
                for h in handles:
                    h.remove()
        for names, values, _ in hooked:
            maps.update(zip(names, values))
    return maps


def _heat(view: np.ndarray, heat: np.ndarray) -> np.ndarray:
    h, w = view.shape[:2]
    heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-12)
    heat = cv2.resize(heat.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
    colored = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(view, 0.5, colored, 0.5, 0)


def _patches(view: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = view.copy()
    ph, pw = view.shape[0] // mask.shape[0], view.shape[1] // mask.shape[1]
    for r, c in zip(*np.nonzero(mask)):
        cv2.rectangle(out, (c * pw, r * ph), ((c + 1) * pw - 1, (r + 1) * ph - 1), PATCH_COLOR, 1)
    return out


def top_class(model: nn.Module, sample) -> Optional[Tuple[str, int, float]]:
    """The top class of a prediction: (name, index, score), or None for a prediction without ``pred_score``
    (Re-ID). The name comes from the model's dataset meta (``dataset_meta`` or ``_dataset_meta``, as MMPretrain's
    ``get_model`` sets it) when it lists one class per score, else ``'class {index}'``."""
    if 'pred_score' not in sample:
        return None
    scores = sample.pred_score
    index = int(scores.argmax())
    classes = (getattr(model, 'dataset_meta', None) or getattr(model, '_dataset_meta', None) or {}).get('classes')
    name = classes[index] if classes is not None and len(classes) == len(scores) else f'class {index}'
    return name, index, float(scores[index])


def render_attention(view: np.ndarray, maps: Dict[str, Tensor], index: int = 0) -> np.ndarray:
    """Panels side by side for image ``index`` of the batch: the view, then
    one panel per map (heat maps blended with the view, GLCA patches
    outlined in green, the GLSim box in yellow).

    Args:
        view (np.ndarray): The model's input view of the image, BGR uint8,
            (H, W, 3).
        maps (dict[str, Tensor]): From :func:`attention_maps`.
        index (int): Which image of the batch.

    Returns:
        np.ndarray: BGR uint8, (H, W * (1 + len(maps)), 3).
    """
    panels = [view]
    for name, value in maps.items():
        value = value[index].detach().cpu()
        if name == 'glca':
            panels.append(_patches(view, value.numpy()))
        elif name == 'glsim_box':
            x0, y0, x1, y1 = (int(v) for v in value)
            panels.append(cv2.rectangle(view.copy(), (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), BOX_COLOR, 1))
        else:
            panels.append(_heat(view, value.float().numpy()))
    return np.concatenate(panels, axis=1)


#: Panel labels of the maps (others are labelled with their key).
PANEL_LABELS = dict(
    rollout='rollout', glca='selected patches (GLCA)', glsim_box='GLSim crop box')
MIN_SIDE = 256
LABEL_H = 22
BAR_W = 14


def _label(width: int, text: str, height: int = LABEL_H) -> np.ndarray:
    strip = np.full((height, width, 3), 255, np.uint8)
    scale = 0.45
    while scale > 0.25 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width - 4:
        scale -= 0.05
    cv2.putText(strip, text, (2, height - 7), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def _colour_bar(height: int) -> np.ndarray:
    """A vertical jet colour bar (high at the top) with ``1`` / ``0`` marks, BGR."""
    ramp = np.linspace(255, 0, height).astype(np.uint8)[:, None].repeat(BAR_W, 1)
    bar = cv2.applyColorMap(ramp, cv2.COLORMAP_JET)
    out = np.full((height, BAR_W + 16, 3), 255, np.uint8)
    out[:, :BAR_W] = bar
    cv2.putText(out, '1', (BAR_W + 3, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(out, '0', (BAR_W + 3, height - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def render_attention_picture(view: np.ndarray,
                             maps: Dict[str, Tensor],
                             index: int = 0,
                             title: Optional[str] = None,
                             min_side: int = MIN_SIDE,
                             scale: int = 1) -> np.ndarray:
    """The labelled attention picture: panels ``input``, then one per map
    (``rollout`` and other heat maps with a colour bar, ``selected patches
    (GLCA)``, ``GLSim crop box``), each upscaled (nearest) by a whole factor
    so that its short side is at least ``min_side``; an optional title line
    on top (e.g. the predicted class and score).

    Args:
        view (np.ndarray): The model's view, BGR uint8 (H, W, 3).
        maps (dict[str, Tensor]): From :func:`attention_maps`.
        index (int): Which image of the batch.
        title (str, optional): A line above the panels.
        min_side (int): Smallest short side of a panel. Defaults to 256.
        scale (int): An extra upscale factor. Defaults to 1.

    Returns:
        np.ndarray: BGR uint8.
    """
    factor = max(1, -(-min_side // min(view.shape[:2]))) * max(1, int(scale))
    big = cv2.resize(view, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    panels = [('input', big)]
    for name, value in maps.items():
        value = value[index].detach().cpu()
        if name == 'glca':
            panels.append((PANEL_LABELS[name], _patches(big, value.numpy())))
        elif name == 'glsim_box':
            x0, y0, x1, y1 = (int(v) * factor for v in value)
            panels.append((PANEL_LABELS[name], cv2.rectangle(big.copy(), (x0, y0),
                                                               (max(x0, x1 - 1), max(y0, y1 - 1)), BOX_COLOR, 2)))
        else:
            heat = _heat(big, value.float().numpy())
            panels.append((PANEL_LABELS.get(name, name), np.concatenate([heat, _colour_bar(big.shape[0])], axis=1)))
    gap = np.full((big.shape[0] + LABEL_H, 6, 3), 255, np.uint8)
    columns = []
    for label, panel in panels:
        columns += [np.concatenate([_label(panel.shape[1], label), panel], axis=0), gap]
    picture = np.concatenate(columns[:-1], axis=1)
    if title:
        picture = np.concatenate([_label(picture.shape[1], title, LABEL_H + 4), picture], axis=0)
    return picture


def save_attention_picture(model: nn.Module,
                           pipeline: Callable,
                           path: str,
                           out_file: str,
                           keys: Optional[Sequence[str]] = None,
                           scale: int = 1,
                           title: Optional[str] = None,
                           min_side: int = MIN_SIDE,
                           labelled: bool = True) -> Dict[str, Tensor]:
    """Write the labelled :func:`render_attention_picture` of one image file as a PNG.

    Args:
        model (nn.Module): The model, in eval mode, on its device.
        pipeline (Callable): The test pipeline, from ``LoadImageFromFile`` on.
        path (str): Image file.
        out_file (str): PNG to write.
        keys (Sequence[str], optional): Draw only these of the maps the model
            has (all when None); an error if none of them is left.
        scale (int): Extra upscale factor of the panels (nearest neighbour).
        title (str, optional): A line above the panels.
        min_side (int): Smallest short side of a panel. Defaults to 256.
        labelled (bool): The labelled picture; False writes the bare
            :func:`render_attention` panels at the view's size (times
            ``scale``). Defaults to True.

    Returns:
        dict[str, Tensor]: The maps drawn.
    """
    inputs, view = load_view(model, pipeline, path)
    maps = attention_maps(model, inputs.to(next(model.parameters()).device))
    if keys is not None:
        maps = {k: v for k, v in maps.items() if k in keys}
    if not maps:
        raise ValueError(f'{type(model).__name__} has no attention map to show'
                         + (f' among {", ".join(keys)}' if keys is not None else ''))
    if labelled:
        picture = render_attention_picture(view, maps, title=title, min_side=min_side, scale=scale)
    else:
        picture = render_attention(view, maps)
        if scale > 1:
            picture = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(out_file, picture)
    return maps
