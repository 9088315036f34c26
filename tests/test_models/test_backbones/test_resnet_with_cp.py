# Copyright (c) OpenMMLab. All rights reserved.
import copy

import pytest
import torch
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401

CONFIGS = {
    'rga': (dict(type='RGAResNet50', height=64, width=32), (2, 3, 64, 32)),
    'clan': (dict(type='CLANResNet', arch='resnet18'), (2, 3, 64, 64)),
}


def _step(model, x, weights):
    model.zero_grad(set_to_none=True)
    outs = model(x)
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    return [o.detach() for o in outs], grads, buffers


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_with_cp_keeps_outputs_gradients_and_bn_statistics(name):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg, shape = CONFIGS[name]
        torch.manual_seed(0)
        plain = MODELS.build(cfg).train()
        with_cp = copy.deepcopy(plain)
        with_cp.with_cp = True
        x = torch.randn(shape)
        weights = [torch.randn_like(o) for o in plain(x)]
        plain.load_state_dict(with_cp.state_dict())  # undo the BN update of that probe pass
        ref = _step(plain, x, weights)
        convs = [m for m in with_cp.modules() if isinstance(m, torch.nn.Conv2d)]
        calls = []
        hook = convs[-1].register_forward_hook(lambda *a: calls.append(1))
        got = _step(with_cp, x, weights)
        hook.remove()
        assert len(calls) == 2  # the last block ran again in the backward pass
        for a, b in zip(got[0], ref[0]):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        for part in (1, 2):  # gradients; BN running statistics (updated once, not twice)
            assert got[part].keys() == ref[part].keys()
            for key in ref[part]:
                torch.testing.assert_close(got[part][key], ref[part][key], rtol=1e-5, atol=1e-6, msg=key)
        with torch.no_grad():  # no checkpointing without gradients
            calls.clear()
            hook = convs[-1].register_forward_hook(lambda *a: calls.append(1))
            with_cp.eval()(x)
            hook.remove()
            assert len(calls) == 1
    finally:
        torch.set_num_threads(threads)
