# Copyright (c) OpenMMLab. All rights reserved.
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import torch
import torch.nn.functional as F

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOOL = osp.join(REPO, 'tools/analysis_tools/benchmark.py')


def _tool():
    spec = importlib.util.spec_from_file_location('dcal_benchmark', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flop_counter_counts_the_cpu_attention_kernels():
    bench = _tool()
    B, H, N, M, d = 2, 3, 10, 7, 8
    q = torch.randn(B, H, N, d, requires_grad=True)
    k, v = torch.randn(B, H, M, d, requires_grad=True), torch.randn(B, H, M, d, requires_grad=True)
    forward = 2 * 2 * B * H * N * M * d  # QK^T and PV
    assert bench.count_flops(lambda: F.scaled_dot_product_attention(q, k, v)) == forward
    # forward + backward (recomputed scores + 4 products: 2.5 forwards), the counter's formulas for the GPU kernels
    assert bench.count_flops(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward()) == 3.5 * forward
    a, b = torch.randn(5, 6), torch.randn(6, 4)
    assert bench.count_flops(lambda: torch.zeros(5, 4).addmm_(a, b)) == 2 * 5 * 6 * 4


def test_benchmark_runs_the_train_steps_and_predictions(tmp_path, run_tool):
    baseline = tmp_path / 'demo_baseline.py'
    baseline.write_text(f"_base_ = ['{REPO}/configs/dcal/demo_fgvc.py']\n"
                        "model = dict(glca=None, pwca=None, backbone=dict(with_rollout=False),\n"
                        "             head=dict(with_glca=False, with_pwca=False, predict_mode='sa'))\n")
    out = tmp_path / 'bench.json'
    run_tool([TOOL, 'configs/dcal/demo_fgvc.py', '--baseline', str(baseline), '--batch-size', '2', '--iters', '2',
              '--warmup', '1', '--with-cp', '--no-memory', '--threads', '1', '--json', str(out)])
    res = json.loads(out.read_text())
    assert set(res['time']) == {'train', 'train_cp', 'infer', 'infer_sa'}
    for entry in res['time'].values():
        for kind in ('wall', 'cpu'):
            spread = entry[kind]['method']
            assert 0 < spread['min'] <= spread['median'] <= spread['max']
            assert entry[kind]['ratio_of_medians'] > 0
    flops = res['flops']
    assert flops['train']['method'] > 1.5 * flops['train']['baseline'] > 0  # SA + GLCA + PWCA vs SA
    assert flops['train_cp']['method'] > flops['train']['method']  # checkpointing recomputes forwards
    assert flops['infer']['method'] > flops['infer']['baseline']  # + rollout and GLCA
    assert flops['infer_sa']['method'] == flops['infer_sa']['baseline']  # SA-only: the baseline's path
    for entry in res['time'].values():  # minor page faults per step, counted for both models
        assert all(isinstance(n, (int, float)) and n >= 0 for n in entry['faults'].values())


def test_keep_heap_stops_steps_faulting_freed_memory_back_in():
    """A step that allocates, touches and frees 160 MiB in 4 MiB tensors: with glibc's defaults the third such
    step still page-faults its memory in again (it went back to the kernel); after ``keep_heap`` it reuses the
    process's memory. Fresh interpreters: ``keep_heap`` changes the allocator of the whole process."""
    code = ('import sys, torch; sys.path.insert(0, sys.argv[1]); import benchmark as bm\n'
            'if sys.argv[2] == "keep": bm.keep_heap()\n'
            'step = lambda: [torch.ones(1 << 20) for _ in range(40)]\n'
            'step(); step(); faults = bm._minor_faults(); step(); print(bm._minor_faults() - faults)\n')
    faults = {}
    for mode in ('default', 'keep'):
        out = subprocess.run([sys.executable, '-c', code, osp.dirname(TOOL), mode], capture_output=True, text=True,
                             check=True).stdout
        faults[mode] = int(out.split()[-1])
    assert faults['default'] > 5000 and faults['keep'] * 10 < faults['default'], faults
