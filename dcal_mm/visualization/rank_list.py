# Copyright (c) OpenMMLab. All rights reserved.
"""Re-ID rank lists: rank a gallery for queries and draw query + top-k
gallery grids (torchreid's ``visualize_ranked_results``, fast-reid's
``visualize_result``), with the match of every gallery image marked."""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: Border colours (BGR) by match kind.
KIND_COLORS = {
    'query': (160, 90, 0),  # dark blue
    'true': (0, 190, 0),  # green: same identity, another camera
    'false': (0, 0, 220),  # red: another identity
    'junk': (150, 150, 150),  # grey: same identity and camera, ignored by the protocol
    None: (40, 40, 40),  # unknown (no labels)
}
#: Colour of the corner tag on gallery images from the query's camera.
SAME_CAMERA_COLOR = (0, 165, 255)  # orange

BORDER = 4
GAP = 4
QUERY_GAP = 16
MARGIN = 8
CAPTION = 14


def rank_gallery(query_feats: torch.Tensor, gallery_feats: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rank the gallery for every query as ``ReIDMetric`` does by default
    (squared Euclidean distance of L2-normalised features).

    Args:
        query_feats (torch.Tensor): (Q, D).
        gallery_feats (torch.Tensor): (G, D).

    Returns:
        tuple[torch.Tensor, torch.Tensor]: Gallery indices, nearest first
        (Q, G), and the sorted distances (Q, G).
    """
    if query_feats.dim() != 2 or gallery_feats.dim() != 2 or query_feats.shape[1] != gallery_feats.shape[1]:
        raise ValueError(f'rank_gallery: expected (Q, D) and (G, D) features, got {tuple(query_feats.shape)} and '
                         f'{tuple(gallery_feats.shape)}')
    q = F.normalize(query_feats.float(), dim=1)
    g = F.normalize(gallery_feats.float(), dim=1)
    dist = (2 - 2 * q @ g.t()).clamp_(min=0)
    dist, order = dist.sort(dim=1, stable=True)
    return order, dist


def match_kinds(query_pid: int, query_cam: int, gallery_pids: Sequence[int],
                gallery_cams: Sequence[int]) -> List[str]:
    """Classify gallery images against a query under the Market-1501
    protocol.

    Args:
        query_pid (int): The query's identity.
        query_cam (int): The query's camera.
        gallery_pids (Sequence[int]): Identities of the gallery images.
        gallery_cams (Sequence[int]): Cameras of the gallery images.

    Returns:
        list[str]: ``'junk'`` (same identity and camera: not counted),
        ``'true'`` (same identity, another camera) or ``'false'``.
    """
    kinds = []
    for pid, cam in zip(gallery_pids, gallery_cams):
        if pid == query_pid:
            kinds.append('junk' if cam == query_cam else 'true')
        else:
            kinds.append('false')
    return kinds


def cell_origin(position: int, cell_size: Tuple[int, int]) -> Tuple[int, int]:
    """Top-left pixel (x, y) of a cell's border in :func:`draw_rank_list`.

    Args:
        position (int): 0 for the query, k for the k-th gallery image.
        cell_size (tuple[int, int]): (h, w) of the images inside the border.

    Returns:
        tuple[int, int]: (x, y).
    """
    w = cell_size[1] + 2 * BORDER
    x = MARGIN if position == 0 else MARGIN + w + QUERY_GAP + (position - 1) * (w + GAP)
    return x, MARGIN


def _cell(img: np.ndarray, cell_size: Tuple[int, int], color, same_camera: bool) -> np.ndarray:
    h, w = cell_size
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.copyMakeBorder(img, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_CONSTANT, value=color)
    if same_camera:
        tag = max(6, w // 6)
        cv2.rectangle(out, (out.shape[1] - BORDER - tag, BORDER), (out.shape[1] - BORDER - 1, BORDER + tag - 1),
                      SAME_CAMERA_COLOR, -1)
    return out


def draw_rank_list(query: np.ndarray,
                   gallery: Sequence[np.ndarray],
                   kinds: Optional[Sequence[Optional[str]]] = None,
                   same_camera: Optional[Sequence[bool]] = None,
                   captions: Optional[Sequence[str]] = None,
                   cell_size: Tuple[int, int] = (128, 64)) -> np.ndarray:
    """One row: the query, then the ranked gallery images.

    Every image is resized to ``cell_size`` and framed: the query in dark
    blue, gallery images by ``kinds`` (:data:`KIND_COLORS`: green true match,
    red false match, grey junk, dark grey unknown). Gallery images from the
    query's camera get an orange tag in their top-right corner. Captions
    (query first) are written below the images.

    Args:
        query (np.ndarray): BGR uint8 image.
        gallery (Sequence[np.ndarray]): BGR uint8 images, best first.
        kinds (Sequence[str | None], optional): Per gallery image, a key of
            :data:`KIND_COLORS`. Defaults to unknown.
        same_camera (Sequence[bool], optional): Per gallery image. Defaults
            to all False.
        captions (Sequence[str], optional): ``1 + len(gallery)`` strings.
        cell_size (tuple[int, int]): (h, w) of every image. Defaults to
            (128, 64).

    Returns:
        np.ndarray: The BGR grid.
    """
    k = len(gallery)
    kinds = list(kinds) if kinds is not None else [None] * k
    same_camera = list(same_camera) if same_camera is not None else [False] * k
    if len(kinds) != k or len(same_camera) != k or (captions is not None and len(captions) != k + 1):
        raise ValueError(f'draw_rank_list: {k} gallery images need {k} kinds, {k} same_camera flags and {k + 1} '
                         f'captions, got {len(kinds)}, {len(same_camera)} and '
                         f'{None if captions is None else len(captions)}')
    unknown = [kind for kind in kinds if kind not in KIND_COLORS]
    if unknown:
        raise ValueError(f'draw_rank_list: kinds must be in {sorted(map(str, KIND_COLORS))}, got {unknown[0]!r}')
    cells = [_cell(query, cell_size, KIND_COLORS['query'], False)]
    cells += [_cell(img, cell_size, KIND_COLORS[kind], cam) for img, kind, cam in zip(gallery, kinds, same_camera)]
    ch, cw = cells[0].shape[:2]
    x_end = cell_origin(k, cell_size)[0] + cw if k else MARGIN + cw
    canvas = np.full((MARGIN * 2 + ch + CAPTION, x_end + MARGIN, 3), 255, dtype=np.uint8)
    for i, cell in enumerate(cells):
        x, y = cell_origin(i, cell_size)
        canvas[y:y + ch, x:x + cw] = cell
        if captions is not None:
            cv2.putText(canvas, str(captions[i]), (x, y + ch + CAPTION - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
