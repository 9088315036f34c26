# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from dcal_mm.visualization import (attention_maps, draw_rank_list, match_kinds, rank_gallery,
                                   render_attention_picture, top_class)


def _scalar(value) -> int:
    return int(value.reshape(-1)[0]) if isinstance(value, torch.Tensor) else int(value)


@HOOKS.register_module()
class ValPictureHook(Hook):
    """Send pictures of the validation set to MMEngine's visualizer
    (``runner.visualizer.add_image(name, image, step=epoch)``: TensorBoard,
    W&B or the local ``vis_data`` folder, whatever ``vis_backends`` holds).

    * ``val_attention_<k>``: the labelled attention picture
      (:func:`~dcal_mm.visualization.render_attention_picture`: input,
      rollout with a colour bar, selected patches, ...) of the first
      ``num_images`` validation images, titled with the top class and score
      for classifiers;
    * ``val_rank_<k>``: for Re-ID models (``pred_feature`` outputs with
      ``is_query``), the rank list of ``num_queries`` queries evenly spread
      over the query set (green / red / grey frames for true / false / junk
      matches, as ``tools/visualization/vis_rank.py``). It keeps the
      features of the validation set until the epoch ends.

    Off unless configured, e.g.
    ``custom_hooks = [dict(type='ValPictureHook', num_images=4)]``.

    Args:
        num_images (int): Attention pictures per validation. Defaults to 4.
        num_queries (int): Rank lists per validation (Re-ID). Defaults to 4.
        topk (int): Gallery images per rank list. Defaults to 5.
        interval (int): Every ``interval``-th validation. Defaults to 1.
        cell_size (tuple[int, int]): (h, w) of the rank-list images.
    """

    priority = 'LOW'

    def __init__(self,
                 num_images: int = 4,
                 num_queries: int = 4,
                 topk: int = 5,
                 interval: int = 1,
                 cell_size: Sequence[int] = (128, 64)):
        for name, value in (('num_images', num_images), ('num_queries', num_queries), ('topk', topk),
                            ('interval', interval)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == 'interval' else 0):
                raise ValueError(f'ValPictureHook: {name} must be a non-negative int (interval positive), got '
                                 f'{value!r}')
        self.num_images, self.num_queries, self.topk, self.interval = num_images, num_queries, topk, interval
        self.cell_size = tuple(cell_size)
        self._count = 0

    def before_val_epoch(self, runner) -> None:
        self._count += 1
        self._active = self._count % self.interval == 0
        self._drawn = 0
        self._samples = []

    def _title(self, model, sample) -> Optional[str]:
        top = top_class(model, sample)
        return None if top is None else f'{top[0]}: {top[2]:.3f}'

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._active or data_batch is None:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self._drawn < self.num_images:
            n = min(self.num_images - self._drawn, len(data_batch['inputs']))
            batch = dict(inputs=list(data_batch['inputs'][:n]), data_samples=list(data_batch['data_samples'][:n]))
            inputs = model.data_preprocessor(batch, False)['inputs']
            maps = attention_maps(model, inputs)
            for i in range(n if maps else 0):
                view = data_batch['inputs'][i].permute(1, 2, 0).cpu().numpy().astype(np.uint8).copy()
                title = self._title(model, outputs[i]) if outputs is not None else None
                picture = render_attention_picture(view, maps, index=i, title=title)
                runner.visualizer.add_image(f'val_attention_{self._drawn + i}', picture[..., ::-1].copy(),
                                            step=runner.epoch)
            self._drawn += n
        if self.num_queries and outputs:
            for sample in outputs:
                if 'pred_feature' not in sample or 'is_query' not in sample:
                    return
                self._samples.append(
                    dict(feature=sample.pred_feature.detach().cpu().float(), pid=_scalar(sample.gt_label),
                         cam=_scalar(sample.cam_id), is_query=bool(_scalar(sample.is_query)),
                         path=sample.get('img_path')))

    def after_val_epoch(self, runner, metrics=None) -> None:
        samples, self._samples = getattr(self, '_samples', []), []
        queries = [s for s in samples if s['is_query']]
        gallery = [s for s in samples if not s['is_query']]
        if not self._active or not queries or not gallery:
            return
        order, dist = rank_gallery(torch.stack([q['feature'] for q in queries]),
                                   torch.stack([g['feature'] for g in gallery]))
        picks = np.unique(np.linspace(0, len(queries) - 1, min(self.num_queries, len(queries))).round().astype(int))
        for k, qi in enumerate(picks):
            q = queries[qi]
            ranked = [gallery[int(j)] for j in order[qi, :self.topk]]
            kinds = match_kinds(q['pid'], q['cam'], [g['pid'] for g in ranked], [g['cam'] for g in ranked])
            picture = draw_rank_list(
                self._read(q['path']), [self._read(g['path']) for g in ranked],
                kinds=kinds,
                same_camera=[g['cam'] == q['cam'] for g in ranked],
                captions=[f'query id {q["pid"]}'] + [f'{r + 1}: {float(d):.2f}' for r, d in
                                                     enumerate(dist[qi, :self.topk])],
                cell_size=self.cell_size)
            runner.visualizer.add_image(f'val_rank_{k}', picture[..., ::-1].copy(), step=runner.epoch)

    def _read(self, path) -> np.ndarray:
        img = cv2.imread(path) if path else None
        return img if img is not None else np.full((*self.cell_size, 3), 127, np.uint8)
