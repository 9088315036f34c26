# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ..functional import evaluate_reid_from_features

_METRICS = ('euclidean', 'cosine')


def _scalar(value, key: str, kind: type):
    """One int/bool from a python scalar, a numpy scalar or a 1-element tensor/array."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if (value.size if isinstance(value, np.ndarray) else value.numel()) != 1:
            raise ValueError(f'ReIDMetric: data sample field {key!r} must hold one value, got shape '
                             f'{tuple(value.shape)}')
        value = value.reshape(-1)[0].item()
    if kind is bool:
        if not isinstance(value, (bool, np.bool_, int, np.integer)) or value not in (0, 1):
            raise ValueError(f'ReIDMetric: data sample field {key!r} must be a bool, got {value!r}')
        return bool(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'ReIDMetric: data sample field {key!r} must be an int, got {value!r}')
    return int(value)


@METRICS.register_module()
class ReIDMetric(BaseMetric):
    """Re-ID retrieval metric: mAP, mINP and CMC Rank-k under the Market-1501
    protocol (same identity and same camera removed from a query's gallery).

    ``process`` keeps, per sample, the feature and labels; ``compute_metrics``
    splits query and gallery by ``is_query`` and runs
    :func:`dcal_mm.evaluation.functional.evaluate_reid_from_features` (with
    ``rerank=True`` for re-ranking, streamed: no (Q+G)^2 or Q x G matrix is
    held, so MSMT17 is re-ranked in minutes). The values are percentages.
    The number of queries that had a valid match is logged.

    Data samples (dicts, as mmengine passes them) must carry:

    - ``pred_feature``: (D,) float tensor, set by the model's ``predict``;
    - ``gt_label``: identity, a (1,) tensor or an int (0 = distractor kept);
    - ``cam_id``: int camera id;
    - ``is_query``: bool.

    Under DDP each rank stores its own samples and mmengine's
    ``collect_results`` gathers them in dataset order and drops the
    duplicates that ``DefaultSampler`` pads to make shards equal, so the
    result is the same as single-process evaluation.

    Args:
        metric (str): ``'euclidean'`` (squared, default, TransReID) or
            ``'cosine'`` (``1 - cos``).
        normalize_feature (bool): L2-normalise features first. Defaults to
            True (TransReID).
        rerank (bool): Apply k-reciprocal re-ranking. Defaults to False. It
            works on the (normalised when ``normalize_feature`` or cosine)
            features with squared Euclidean distance; on normalised features
            this ranks as cosine does (TransReID). Its time is that of an
            (Q+G) x (Q+G) matrix product (MSMT17, 1,536-d: minutes on a CPU);
            the expected time is logged and progress shown.
        k1 (int): Re-ranking k1. Defaults to 20.
        k2 (int): Re-ranking k2. Defaults to 6.
        lambda_value (float): Re-ranking lambda. Defaults to 0.3.
        rerank_max_samples (int, optional): Largest query + gallery size
            re-ranking accepts. Defaults to None: no limit.
        max_rank (int): Length of the CMC curve. Defaults to 50.
        topk (Sequence[int]): CMC ranks to report as ``Rank-k``. Defaults to
            (1, 5, 10).
        chunk_size (int, optional): Queries per distance chunk. Defaults to
            None (from ``memory_budget_mb``).
        memory_budget_mb (float): Working-memory budget of one chunk in MiB.
            Defaults to 512.
        progress (bool): Show progress bars while evaluating (rank 0 only:
            mmengine computes metrics on the main process). Defaults to True.
        collect_device (str): ``'cpu'`` or ``'gpu'`` for gathering results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to None, which
            uses ``'reid'``.
        collect_dir (str, optional): Shared directory for ``'cpu'``
            collection. Defaults to None.
    """
    default_prefix: Optional[str] = 'reid'

    def __init__(self,
                 metric: str = 'euclidean',
                 normalize_feature: bool = True,
                 rerank: bool = False,
                 k1: int = 20,
                 k2: int = 6,
                 lambda_value: float = 0.3,
                 rerank_max_samples: Optional[int] = None,
                 max_rank: int = 50,
                 topk: Sequence[int] = (1, 5, 10),
                 chunk_size: Optional[int] = None,
                 memory_budget_mb: float = 512.,
                 progress: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if metric not in _METRICS:
            raise ValueError(f'ReIDMetric: metric must be one of {_METRICS}, got {metric!r}')
        if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1:
            raise ValueError(f'ReIDMetric: max_rank must be a positive int, got {max_rank!r}')
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not topk or any(isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_rank for k in topk):
            raise ValueError(f'ReIDMetric: topk must be ints in [1, max_rank={max_rank}], got {topk!r}')
        for name, k in (('k1', k1), ('k2', k2)):
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise ValueError(f'ReIDMetric: {name} must be a positive int, got {k!r}')
        if not 0 <= lambda_value <= 1:
            raise ValueError(f'ReIDMetric: lambda_value must be in [0, 1], got {lambda_value!r}')
        self.metric = metric
        self.normalize_feature = normalize_feature
        self.rerank = rerank
        self.k1, self.k2, self.lambda_value = k1, k2, lambda_value
        self.rerank_max_samples = rerank_max_samples
        self.max_rank = max_rank
        self.topk = topk
        self.chunk_size = chunk_size
        self.memory_budget_mb = memory_budget_mb
        self.progress = progress

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the feature, identity, camera and query flag of each sample.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Model outputs as dicts.
        """
        for sample in data_samples:
            for key in ('pred_feature', 'gt_label', 'cam_id', 'is_query'):
                if key not in sample:
                    hint = (" (the model's predict must set it with data_sample.set_field(feat, 'pred_feature'))"
                            if key == 'pred_feature' else
                            " (add it to PackInputs' algorithm_keys)" if key in ('cam_id', 'is_query') else '')
                    raise ValueError(f'ReIDMetric: data sample has no {key!r}{hint}; it has {sorted(sample)}')
            feat = sample['pred_feature']
            feat = feat.detach().cpu() if isinstance(feat, torch.Tensor) else torch.as_tensor(np.asarray(feat))
            if feat.ndim != 1 or not feat.is_floating_point():
                raise ValueError(f"ReIDMetric: 'pred_feature' must be a 1-D float tensor, got shape "
                                 f'{tuple(feat.shape)} dtype {feat.dtype}')
            self.results.append(
                dict(
                    feature=feat,
                    pid=_scalar(sample['gt_label'], 'gt_label', int),
                    camid=_scalar(sample['cam_id'], 'cam_id', int),
                    is_query=_scalar(sample['is_query'], 'is_query', bool)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Evaluate the gathered samples.

        Args:
            results (List[dict]): All samples, from :meth:`process`.

        Returns:
            dict: ``mAP``, ``mINP`` and ``Rank-k`` for k in ``topk``, in %.
        """
        is_query = np.array([r['is_query'] for r in results], dtype=bool)
        num_q = int(is_query.sum())
        if num_q == 0:
            raise ValueError(f'ReIDMetric: none of the {len(results)} samples is a query (is_query=True)')
        if num_q == len(results):
            raise ValueError(f'ReIDMetric: all {num_q} samples are queries; there is no gallery (is_query=False)')
        dims = {r['feature'].shape[0] for r in results}
        if len(dims) != 1:
            raise ValueError(f"ReIDMetric: 'pred_feature' sizes differ across samples: {sorted(dims)}")
        feats = torch.stack([r['feature'] for r in results]).float()
        pids = np.array([r['pid'] for r in results], dtype=np.int64)
        camids = np.array([r['camid'] for r in results], dtype=np.int64)
        q_idx = torch.from_numpy(np.flatnonzero(is_query))
        g_idx = torch.from_numpy(np.flatnonzero(~is_query))
        labels = (pids[is_query], pids[~is_query], camids[is_query], camids[~is_query])
        num = len(results)
        if self.rerank and self.rerank_max_samples is not None and num > self.rerank_max_samples:
            raise ValueError(f'ReIDMetric: re-ranking {num} samples exceeds rerank_max_samples='
                             f'{self.rerank_max_samples}')
        q_feats, g_feats = feats[q_idx], feats[g_idx]
        del feats
        res = evaluate_reid_from_features(
            q_feats,
            g_feats,
            *labels,
            metric=self.metric,
            normalize=self.normalize_feature,
            max_rank=self.max_rank,
            chunk_size=self.chunk_size,
            memory_budget_mb=self.memory_budget_mb,
            rerank=self.rerank,
            k1=self.k1,
            k2=self.k2,
            lambda_value=self.lambda_value,
            progress=self.progress and is_main_process())
        print_log(
            f'ReIDMetric: {res["num_valid_queries"]} of {num_q} queries have a valid match '
            f'(gallery: {len(results) - num_q})',
            logger='current')
        metrics = dict(mAP=res['mAP'] * 100, mINP=res['mINP'] * 100)
        for k in self.topk:
            metrics[f'Rank-{k}'] = float(res['CMC'][k - 1] * 100)
        return metrics
