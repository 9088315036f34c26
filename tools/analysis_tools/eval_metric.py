# Copyright (c) OpenMMLab. All rights reserved.
"""Evaluate a ``tools/test.py --out`` dump offline, as MMPretrain's
``tools/analysis_tools/eval_metric.py`` (same arguments), with dcal_mm's
metrics registered.

Examples:
    python tools/test.py configs/dcal/demo_reid.py CKPT --out feats.pkl
    python tools/analysis_tools/eval_metric.py feats.pkl --metric type=ReIDMetric
    python tools/analysis_tools/eval_metric.py feats.pkl --metric type=ReIDMetric rerank=True topk=1,5,10

    python tools/test.py configs/dcal/demo_fgvc.py CKPT --out preds.pkl
    python tools/analysis_tools/eval_metric.py preds.pkl --metric type=Accuracy topk=1,5

MMPretrain's own copy works too when the type is scoped (``dcal_mm.`` makes
MMEngine import ``dcal_mm.registry``, which registers the metric)::

    python $(python -c "import mmpretrain, os; print(os.path.dirname(mmpretrain.__file__))")/.mim/tools/\\
analysis_tools/eval_metric.py feats.pkl --metric type=dcal_mm.ReIDMetric
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmengine  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.evaluator import Evaluator  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmpretrain.registry import METRICS  # noqa: E402

import dcal_mm  # noqa: E402,F401  (registers ReIDMetric)
from dcal_mm.utils.errors import install_excepthook  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate the predictions of a tools/test.py --out dump')
    parser.add_argument('pkl_results', help='a tools/test.py --out file (predictions, --out-item pred)')
    parser.add_argument(
        '--metric',
        nargs='+',
        action='append',
        dest='metric_options',
        required=True,
        help='a metric as key=value pairs, e.g. type=ReIDMetric rerank=True or type=Accuracy topk=1,5; repeat '
        '--metric for several metrics')
    return parser.parse_args(argv)


def build_metrics(metric_options):
    """Metrics from ``--metric`` key=value lists (values parsed as MMPretrain's tool does)."""
    metrics = []
    for option in metric_options:
        cfg = {}
        for kv in option:
            if '=' not in kv:
                raise ValueError(f'--metric {" ".join(option)}: expected key=value pairs, got {kv!r}')
            key, value = kv.split('=', maxsplit=1)
            cfg[key] = DictAction._parse_iterable(value)
        if 'type' not in cfg:
            raise ValueError(f'--metric {" ".join(option)}: expected a type=NAME (e.g. type=ReIDMetric)')
        metrics.append(METRICS.build(cfg))
    return metrics


def evaluate(pkl_results, metric_options):
    """Evaluate a dump; returns the metrics dict."""
    predictions = mmengine.load(pkl_results)
    if not isinstance(predictions, list) or not predictions or not isinstance(predictions[0], dict):
        raise ValueError(f'{pkl_results}: expected a list of per-sample prediction dicts (tools/test.py --out FILE, '
                         f'--out-item pred), got {type(predictions).__name__}')
    init_default_scope('mmpretrain')
    return Evaluator(build_metrics(metric_options)).offline_evaluate(predictions, None)


def main(argv=None):
    args = parse_args(argv)
    install_excepthook()
    results = evaluate(args.pkl_results, args.metric_options)
    for key, value in results.items():
        print(f'{key}: {value:.4f}' if isinstance(value, float) else f'{key}: {value}')
    return results


if __name__ == '__main__':
    main()
