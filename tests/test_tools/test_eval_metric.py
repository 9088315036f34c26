# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/eval_metric.py re-evaluates a tools/test.py --out dump
offline to the same metrics as the online test; MMPretrain's own eval_metric.py
finds ReIDMetric through the ``dcal_mm.`` scope."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import mmpretrain
import pytest
import torch
from mmpretrain import get_model

import dcal_mm  # noqa: F401
from dcal_mm.datasets import make_demo_cub, make_demo_market1501

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MMPRETRAIN_EVAL = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'analysis_tools', 'eval_metric.py')


def _test_and_dump(run_tool, tmp_path, config, data_root, *metric_options):
    """Online metrics (from the test's json log) and the --out dump of a random tiny model."""
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': get_model(config).state_dict()}, ckpt)
    out, work_dir = str(tmp_path / 'dump.pkl'), tmp_path / 'work'
    run_tool(['tools/test.py', config, ckpt, '--work-dir', str(work_dir), '--out', out, '--cfg-options',
              f'test_dataloader.dataset.data_root={data_root}', 'test_dataloader.num_workers=0', *metric_options])
    (log, ) = glob.glob(str(work_dir / '*' / '*.json'))
    with open(log) as f:
        online = {k: v for k, v in json.load(f).items() if k not in ('data_time', 'time')}
    return online, out


def test_reid_offline_equals_online(run_tool, load_tool, tmp_path):
    root = str(tmp_path / 'data')
    make_demo_market1501(root, num_train_ids=4, num_test_ids=4, num_distractors=2, num_junk=1)
    online, dump = _test_and_dump(run_tool, tmp_path, osp.join(REPO, 'configs/dcal/demo_reid.py'), root)
    assert {'reid/mAP', 'reid/Rank-1'} <= set(online)
    tool = load_tool('tools/analysis_tools/eval_metric.py')
    offline = tool.main([dump, '--metric', 'type=ReIDMetric'])
    assert offline == pytest.approx(online, abs=1e-6)
    # the options reach the metric (topk=1,5: Rank-1 and Rank-5 only)
    reranked = tool.main([dump, '--metric', 'type=ReIDMetric', 'rerank=True', 'k1=4', 'k2=2', 'topk=1,5'])
    assert set(reranked) == {'reid/mAP', 'reid/mINP', 'reid/Rank-1', 'reid/Rank-5'}

    # MMPretrain's own tool, in a fresh interpreter that never imported dcal_mm: the scoped type works
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, MMPRETRAIN_EVAL, dump, '--metric', 'type=dcal_mm.ReIDMetric'],
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"'reid/mAP': {repr(online['reid/mAP'])[:7]}" in proc.stdout, proc.stdout[-2000:]


def test_fgvc_offline_equals_online(run_tool, load_tool, tmp_path):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=10, train_per_class=1, test_per_class=2)
    online, dump = _test_and_dump(run_tool, tmp_path, osp.join(REPO, 'configs/dcal/demo_fgvc.py'), root,
                                  'test_evaluator.topk=[1,5]')
    assert set(online) == {'accuracy/top1', 'accuracy/top5'}
    offline = load_tool('tools/analysis_tools/eval_metric.py').main([dump, '--metric', 'type=Accuracy', 'topk=1,5'])
    assert offline == pytest.approx(online, abs=1e-6)


def test_bad_dump_and_options_are_one_line_errors(load_tool, tmp_path):
    import mmengine
    tool = load_tool('tools/analysis_tools/eval_metric.py')
    metrics = str(tmp_path / 'metrics.pkl')
    mmengine.dump({'accuracy/top1': 1.0}, metrics)  # an --out-item metrics file
    with pytest.raises(ValueError, match='list of per-sample prediction dicts'):
        tool.main([metrics, '--metric', 'type=Accuracy'])
    with pytest.raises(ValueError, match='key=value'):
        tool.build_metrics([['Accuracy']])
