# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
import socket
import time

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

import dcal_mm  # noqa: F401
from dcal_mm.evaluation.functional import evaluate_reid, evaluate_reid_from_features, k_reciprocal_rerank
from dcal_mm.evaluation.metrics import ReIDMetric


def make_data(seed: int, num: int, dim: int = 8):
    """A test split: queries first, then gallery, with distractors (pid 0)."""
    g = torch.Generator().manual_seed(seed)
    num_q = num // 4
    pids = torch.randint(1, 6, (num, ), generator=g)
    pids[num_q::7] = 0
    return dict(
        feats=torch.randn(num, dim, generator=g),
        pids=pids,
        cams=torch.randint(0, 3, (num, ), generator=g),
        is_query=torch.arange(num) < num_q)


def make_sample(data: dict, i: int) -> dict:
    sample = DataSample().set_gt_label(int(data['pids'][i]))
    sample.set_field(data['feats'][i].clone(), 'pred_feature')
    sample.set_field(int(data['cams'][i]), 'cam_id')
    sample.set_field(bool(data['is_query'][i]), 'is_query')
    return sample


def expected(data: dict, **kwargs) -> dict:
    q = data['is_query']
    res = evaluate_reid_from_features(data['feats'][q], data['feats'][~q], data['pids'][q], data['pids'][~q],
                                      data['cams'][q], data['cams'][~q], **kwargs)
    return {
        'reid/mAP': 100 * res['mAP'],
        'reid/mINP': 100 * res['mINP'],
        'reid/Rank-1': 100 * res['CMC'][0],
        'reid/Rank-5': 100 * res['CMC'][4],
        'reid/Rank-10': 100 * res['CMC'][9]
    }


def run_evaluator(data: dict, order=None, batch_size: int = 5, **metric_kwargs) -> dict:
    evaluator = Evaluator(ReIDMetric(**metric_kwargs))
    order = range(len(data['pids'])) if order is None else order
    order = list(order)
    for i in range(0, len(order), batch_size):
        evaluator.process([make_sample(data, j) for j in order[i:i + batch_size]])
    return evaluator.evaluate(len(order))


def test_metric_through_evaluator():
    data = make_data(0, 60)
    res = run_evaluator(data)
    assert set(res) == {'reid/mAP', 'reid/mINP', 'reid/Rank-1', 'reid/Rank-5', 'reid/Rank-10'}
    exp = expected(data)
    for key, value in exp.items():
        assert res[key] == pytest.approx(value, abs=1e-9)
    assert 0 < res['reid/mAP'] < 100 and res['reid/Rank-1'] <= res['reid/Rank-5'] <= res['reid/Rank-10']
    # Query/gallery are split by is_query, not by position.
    shuffled = run_evaluator(data, order=np.random.default_rng(0).permutation(60), batch_size=7)
    for key, value in exp.items():
        assert shuffled[key] == pytest.approx(value, abs=1e-9)


def test_metric_hand_computed():
    # Query pid 1 cam 0. Gallery along a line: distances 1, 2, 3, 4 from it.
    feats = torch.tensor([[0.], [1.], [2.], [3.], [4.]])
    data = dict(
        feats=feats,
        pids=torch.tensor([1, 2, 1, 1, 3]),
        cams=torch.tensor([0, 1, 0, 1, 1]),  # gallery item 2 is same pid + cam: removed
        is_query=torch.tensor([True, False, False, False, False]))
    res = run_evaluator(data, normalize_feature=False, topk=(1, 2), max_rank=3)
    # Kept ranking: pid2, pid1(cam 1), pid3 -> hit at rank 2.
    assert res == pytest.approx({'reid/mAP': 50.0, 'reid/mINP': 50.0, 'reid/Rank-1': 0.0, 'reid/Rank-2': 100.0})


def test_metric_options():
    data = make_data(1, 48)
    res = run_evaluator(data, metric='cosine', prefix='val')
    exp = expected(data, metric='cosine')
    assert res['val/mAP'] == pytest.approx(exp['reid/mAP'], abs=1e-9)
    res = run_evaluator(data, normalize_feature=False, chunk_size=3)
    assert res['reid/mAP'] == pytest.approx(expected(data, normalize=False)['reid/mAP'], abs=1e-9)
    # Re-ranking on the L2-normalised features.
    res = run_evaluator(data, rerank=True, k1=6, k2=2, lambda_value=0.4)
    q = data['is_query']
    dist = k_reciprocal_rerank(data['feats'][q], data['feats'][~q], k1=6, k2=2, lambda_value=0.4, normalize=True)
    ref = evaluate_reid(dist, data['pids'][q], data['pids'][~q], data['cams'][q], data['cams'][~q])
    assert res['reid/mAP'] == pytest.approx(100 * ref['mAP'], abs=1e-9)
    assert res['reid/mAP'] != pytest.approx(expected(data)['reid/mAP'], abs=1e-6)


def test_metric_accepts_tensor_labels():
    data = make_data(2, 24)
    metric = ReIDMetric()
    samples = []
    for i in range(24):
        s = make_sample(data, i).to_dict()
        s['cam_id'] = torch.tensor([s['cam_id']])
        s['is_query'] = np.bool_(s['is_query'])
        samples.append(s)
    metric.process(None, samples)
    res = metric.evaluate(24)
    assert res['reid/mAP'] == pytest.approx(expected(data)['reid/mAP'], abs=1e-9)


def test_metric_errors():
    data = make_data(3, 20)
    metric = ReIDMetric()
    sample = make_sample(data, 0).to_dict()
    del sample['pred_feature']
    with pytest.raises(ValueError, match="no 'pred_feature'"):
        metric.process(None, [sample])
    sample = make_sample(data, 0).to_dict()
    del sample['cam_id']
    with pytest.raises(ValueError, match="no 'cam_id'.*algorithm_keys"):
        metric.process(None, [sample])
    sample = make_sample(data, 0).to_dict()
    sample['pred_feature'] = torch.zeros(2, 3)
    with pytest.raises(ValueError, match='1-D float tensor'):
        metric.process(None, [sample])
    sample = make_sample(data, 0).to_dict()
    sample['cam_id'] = 1.5
    with pytest.raises(ValueError, match="'cam_id' must be an int"):
        metric.process(None, [sample])

    gallery_only = {k: v[~data['is_query']] for k, v in data.items()}
    with pytest.raises(ValueError, match='none of the 15 samples is a query'):
        run_evaluator(gallery_only)
    query_only = {k: v[data['is_query']] for k, v in data.items()}
    with pytest.raises(ValueError, match='there is no gallery'):
        run_evaluator(query_only)
    mixed = ReIDMetric()
    mixed.process(None, [make_sample(data, 0).to_dict()])
    odd = make_sample(data, 10).to_dict()
    odd['pred_feature'] = torch.zeros(5)
    mixed.process(None, [odd])
    with pytest.raises(ValueError, match='sizes differ'):
        mixed.evaluate(2)
    with pytest.raises(ValueError, match='topk'):
        ReIDMetric(topk=(1, 60))
    with pytest.raises(ValueError, match='metric must be one of'):
        ReIDMetric(metric='hamming')
    with pytest.raises(ValueError, match='lambda_value'):
        ReIDMetric(lambda_value=-0.1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world_size: int, port: int, workdir: str) -> None:
    import torch.distributed as dist
    from mmengine.dataset import DefaultSampler
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world_size)
    try:
        data = torch.load(osp.join(workdir, 'data.pt'))
        num = len(data['pids'])
        indices = list(DefaultSampler(list(range(num)), shuffle=False, seed=0))
        evaluator = Evaluator(ReIDMetric(collect_dir=osp.join(workdir, 'collect')))
        for i in range(0, len(indices), 4):
            evaluator.process([make_sample(data, j) for j in indices[i:i + 4]])
        res = evaluator.evaluate(num)
        torch.save(dict(res=res, indices=indices), osp.join(workdir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_metric_ddp_matches_single_process(tmp_path):
    num = 23  # not divisible by 2: DefaultSampler pads rank 1 with sample 0
    data = make_data(4, num)
    torch.save(data, tmp_path / 'data.pt')
    ctx = mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=False)
    deadline = time.time() + 240
    while not ctx.join(timeout=2):
        if time.time() > deadline:
            for p in ctx.processes:
                p.terminate()
            pytest.fail('DDP workers did not finish in 240 s')
    out = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    shards = out[0]['indices'] + out[1]['indices']
    assert len(shards) == 24 and out[1]['indices'][-1] == 0  # the padded duplicate (a query)
    single = run_evaluator(data)
    for r in range(2):
        assert out[r]['res'] == pytest.approx(single, abs=1e-9)
    # Keeping the duplicate would change the result: the trimming matters.
    with_dup = run_evaluator(data, order=list(range(num)) + [0])
    assert with_dup['reid/mAP'] != pytest.approx(single['reid/mAP'], abs=1e-6)


def test_metric_progress_on_the_main_process_only(capsys, monkeypatch):
    from dcal_mm.evaluation.metrics import reid_metric
    data = make_data(5, 40)
    run_evaluator(data, rerank=True)
    out = capsys.readouterr().out
    assert 'evaluate_reid (re-ranked): 10 queries x 30 gallery' in out and 'neighbours of 40 samples' in out
    run_evaluator(data, progress=False)
    assert 'evaluate_reid' not in capsys.readouterr().out
    monkeypatch.setattr(reid_metric, 'is_main_process', lambda: False)
    run_evaluator(data)
    assert 'evaluate_reid' not in capsys.readouterr().out
    # No sample limit by default; an explicit one is enforced.
    with pytest.raises(ValueError, match='exceeds rerank_max_samples=30'):
        run_evaluator(data, rerank=True, rerank_max_samples=30)
