# Copyright (c) OpenMMLab. All rights reserved.
"""Gallery matching for the Re-ID classifiers: the retriever protocol that
MMPretrain's ``ImageRetrievalInferencer`` drives (``prototype``,
``prepare_prototype``, ``dump_prototype``, ``pred_score`` over the gallery)."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine import dist
from mmengine.runner import Runner
from mmpretrain.structures import DataSample
from torch import Tensor
from torch.utils.data import DataLoader

from dcal_mm.utils.progress import Progress


class ReIDRetrievalMixin:
    """Image-to-image retrieval on top of a classifier whose ``predict`` sets
    ``pred_feature`` (:class:`ReIDClassifier`, :class:`DCAL` with a Re-ID
    head).

    ``ImageRetrievalInferencer`` assigns ``model.prototype`` (the gallery)
    and calls :meth:`prepare_prototype`, which stores the gallery's
    ``pred_feature`` s, computed by the same ``predict`` as ``tools/test.py``.
    From then on :meth:`predict` also sets, next to ``pred_feature``,
    ``pred_score`` (cosine similarity to every gallery image, in gallery
    order; it ranks as the Euclidean distance of L2-normalised features that
    ``ReIDMetric`` uses) and ``pred_label`` (gallery indices, most similar
    first). Without a prototype ``predict`` is unchanged.

    ``prototype`` may be a ``DataLoader``, a dataloader config, a (G, D)
    tensor or the path of one saved by :meth:`dump_prototype`; gallery items
    are placed by their ``sample_idx``.
    """

    prototype = None

    def prepare_prototype(self) -> None:
        """Compute (or load) the gallery features of ``self.prototype``."""
        source = self.prototype
        if source is None:
            raise ValueError(f'{type(self).__name__}.prepare_prototype: set model.prototype (a DataLoader, a '
                             'dataloader config, a (G, D) tensor or a feature file) first')
        if isinstance(source, Tensor):
            vecs = source
        elif isinstance(source, str):
            vecs = torch.load(source, map_location='cpu', weights_only=True)
        elif isinstance(source, (dict, DataLoader)):
            vecs = self._gallery_features(Runner.build_dataloader(source) if isinstance(source, dict) else source)
        else:
            raise TypeError(f'{type(self).__name__}.prototype must be a DataLoader, a dataloader config, a tensor '
                            f'or a file path, got {type(source).__name__}')
        if not isinstance(vecs, Tensor) or vecs.dim() != 2:
            raise ValueError(f'{type(self).__name__}: prototype features must be a (G, D) tensor, got '
                             f'{getattr(vecs, "shape", type(vecs).__name__)}')
        self._prototype_vecs = vecs.float()
        self._prototype_source = source

    def dump_prototype(self, path: str) -> None:
        """Save the gallery features (a (G, D) tensor) to ``path``.

        Args:
            path (str): Output file, loadable as ``model.prototype``.
        """
        torch.save(self._ensure_prototype().cpu(), path)

    @torch.no_grad()
    def _gallery_features(self, loader: DataLoader) -> Tensor:
        was_training = self.training
        self.eval()
        vecs = None
        bar = Progress(len(loader.dataset), desc=f'gallery features: {len(loader.dataset)} images')
        for batch in loader:
            data = self.data_preprocessor(batch, False)
            samples = super().predict(data['inputs'], data['data_samples'])  # the tools/test.py path
            feats = _stack_features(samples, type(self).__name__)
            if vecs is None:
                vecs = feats.new_zeros(len(loader.dataset), feats.shape[1]).cpu()
            for sample, feat in zip(batch['data_samples'], feats):
                vecs[sample.sample_idx] = feat.cpu()
            bar.update(len(feats))
        self.train(was_training)
        if vecs is None:
            raise ValueError(f'{type(self).__name__}: the prototype dataloader is empty')
        dist.all_reduce(vecs)
        return vecs

    def _ensure_prototype(self) -> Tensor:
        if getattr(self, '_prototype_source', None) is not self.prototype:
            self.prepare_prototype()
        return self._prototype_vecs

    def predict(self, inputs: Tensor, data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """The parent's prediction, plus gallery matching when
        ``self.prototype`` is set.

        Args:
            inputs (Tensor): Images, (B, 3, H, W).
            data_samples (list[DataSample], optional): Samples to fill.
            **kwargs: Passed to the parent's ``predict``.

        Returns:
            list[DataSample]: With ``pred_feature``, and with a prototype also
            ``pred_score`` (G, ) and ``pred_label`` (G, ).
        """
        results = super().predict(inputs, data_samples, **kwargs)
        if self.prototype is None:
            return results
        gallery = self._ensure_prototype().to(inputs.device)
        query = _stack_features(results, type(self).__name__)
        if query.shape[1] != gallery.shape[1]:
            raise ValueError(f'{type(self).__name__}: query features have {query.shape[1]} dims but the prototype '
                             f'has {gallery.shape[1]}')
        scores = F.normalize(query, dim=1) @ F.normalize(gallery, dim=1).t()
        for sample, score in zip(results, scores):
            sample.set_pred_score(score).set_pred_label(score.argsort(descending=True))
        return results


def _stack_features(samples: List[DataSample], owner: str) -> Tensor:
    if not samples or 'pred_feature' not in samples[0]:
        raise ValueError(f'{owner}: image retrieval needs pred_feature from predict (a Re-ID head); this model '
                         'predicts class scores')
    return torch.stack([s.pred_feature for s in samples])
