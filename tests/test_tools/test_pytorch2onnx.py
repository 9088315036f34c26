# Copyright (c) OpenMMLab. All rights reserved.
"""tools/deployment/pytorch2onnx.py on the DCAL demos: the ONNX graph (SA +
rollout + top-R + GLCA) matches PyTorch to 1e-4 at any batch size."""
import glob
import json
import os.path as osp
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from mmengine.dataset import pseudo_collate

import dcal_mm  # noqa: F401
from dcal_mm.apis import build_inference_model
from dcal_mm.datasets import make_demo_cub, make_demo_market1501


@pytest.mark.parametrize('config,output', [('configs/dcal/demo_fgvc.py', 'scores'),
                                           ('configs/dcal/demo_reid.py', 'features')])
def test_onnx_export_matches_pytorch(run_tool, tmp_path, capsys, config, output):
    torch.manual_seed(0)
    model, pipeline = build_inference_model(config)
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    onnx_file = str(tmp_path / 'model.onnx')
    run_tool(['tools/deployment/pytorch2onnx.py', config, ckpt, '--output-file', onnx_file])
    out = capsys.readouterr().out
    diff = float(re.search(r'max abs difference ([0-9.e+-]+)', out).group(1))
    assert diff <= 1e-4
    # the two stages report as they go, with their time
    assert re.search(r'\[1/2\] exporting .*: done in \d+s\n.*\[2/2\] parity check: .*: done in \d+s', out, re.S), out

    graph = onnx.load(onnx_file)
    assert [i.name for i in graph.graph.input] == ['images'] and [o.name for o in graph.graph.output] == [output]
    meta = {p.key: p.value for p in graph.metadata_props}
    np.testing.assert_allclose(json.loads(meta['mean']), model.data_preprocessor.mean.flatten().tolist())
    assert {'TopK', 'Softmax'} <= {n.op_type for n in graph.graph.node}  # GLCA's top-R selection is in the graph

    # an independent check on real images at another batch size (5)
    root = str(tmp_path / 'data')
    if output == 'features':
        make_demo_market1501(root, num_train_ids=1, num_test_ids=3, num_distractors=0, num_junk=0)
        paths = sorted(glob.glob(osp.join(root, '*', 'query', '*.jpg')))[:5]
    else:
        paths = sorted(glob.glob(osp.join(make_demo_cub(root, num_classes=5, train_per_class=1, test_per_class=1),
                                          'images', '*', '*.jpg')))[:5]
    inputs = model.data_preprocessor(pseudo_collate([pipeline(dict(img_path=p)) for p in paths]))['inputs']
    got = ort.InferenceSession(onnx_file, providers=['CPUExecutionProvider']).run(None, {'images': inputs.numpy()})[0]
    with torch.no_grad():
        samples = model.predict(inputs)
    expected = torch.stack([s.pred_feature if output == 'features' else s.pred_score for s in samples]).numpy()
    assert got.shape == expected.shape == (5, expected.shape[1])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
