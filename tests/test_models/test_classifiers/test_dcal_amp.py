# Copyright (c) OpenMMLab. All rights reserved.
"""DCAL under bf16 autocast on the CPU: what mixed-precision training and inference on a GPU rely on."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import DATASETS, MODELS

import dcal_mm  # noqa: F401
from dcal_mm.datasets.demo import make_demo_cub
from dcal_mm.models.layers import attention_rollout_cls

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO_ROOT, 'configs/dcal/demo_fgvc.py')
TINY = dict(embed_dims=32, num_layers=3, num_heads=2, patch_size=8)


def bf16():
    return torch.autocast('cpu', dtype=torch.bfloat16)


def _dataset(cfg, loader, data_root):
    ds_cfg = copy.deepcopy(cfg[loader].dataset)
    ds_cfg.data_root = data_root
    return DATASETS.build(ds_cfg)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """The demo config's DCAL model, a demo training batch and the demo test batch.

    Random weights, but classifiers drawn with std 1 instead of 0.01: its class scores are then far from ties, as
    a trained model's are (near-uniform scores would flip under any rounding, fp32 or not).
    """
    cfg = Config.fromfile(CONFIG)
    cfg.model.head.init_cfg = dict(type='Normal', layer='Linear', std=1.0)
    data_root = make_demo_cub(str(tmp_path_factory.mktemp('demo')), num_classes=10, train_per_class=2,
                              test_per_class=3)
    np.random.seed(0)  # the train pipeline's random crop / flip: the same batch whatever ran before
    train = pseudo_collate([_dataset(cfg, 'train_dataloader', data_root)[i] for i in range(8)])
    test = pseudo_collate(list(_dataset(cfg, 'test_dataloader', data_root)))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, train, test


def test_rollout_is_float32_under_autocast():
    g = torch.Generator().manual_seed(0)
    maps = [torch.randn(2, 17, 17, generator=g).softmax(-1) for _ in range(3)]
    expected = attention_rollout_cls(maps)
    with bf16():
        got = attention_rollout_cls(maps)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0, atol=0)  # no product rounded through bf16
    # the backbone's maps: float32, made from the bf16 queries/keys with autocast off, in both grad modes
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='DCALViT', arch=TINY, img_size=32, with_rollout=True))
    tokens = backbone.embed(torch.randn(2, 3, 32, 32))
    for grad in (True, False):
        with torch.set_grad_enabled(grad), bf16():
            (_, _, scores), qkv = backbone.forward_tokens(tokens, return_qkv=True)
            _, attn, _ = backbone.blocks[0].forward_sa(tokens, return_attn=True)
        q, k, _ = qkv[0]
        assert q.dtype == torch.bfloat16  # the attention itself ran in bf16
        assert scores.dtype == attn.dtype == torch.float32
        expected = ((q.float() @ k.float().transpose(-2, -1)) * backbone.blocks[0].attn.scale).softmax(-1).mean(1)
        torch.testing.assert_close(attn, expected, rtol=1e-6, atol=1e-7)


def test_bf16_training_step_is_finite(demo):
    model, train, _ = demo
    model = copy.deepcopy(model)  # the training forward updates the stem's BatchNorm statistics: not the shared model's
    model.train()
    data = model.data_preprocessor(copy.deepcopy(train), True)
    with bf16():
        losses = model(**data, mode='loss')
    assert {'sa_ce', 'glca_ce', 'pwca_ce'} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    losses['loss'].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_bf16_predictions_equal_float32_argmax_on_the_demo(demo):
    model, _, test = demo
    model.eval()
    with torch.no_grad():
        fp32 = model.test_step(copy.deepcopy(test))
        with bf16():
            low = model.test_step(copy.deepcopy(test))
    scores32 = torch.stack([d.pred_score for d in fp32])
    scores16 = torch.stack([d.pred_score for d in low])
    assert scores32.dtype == torch.float32 and scores16.dtype == torch.bfloat16  # bf16 really ran
    assert len(fp32) == 30 and (scores32.max(1).values > 0.3).all()  # not near-uniform scores
    # equal argmax wherever float32 is not a near-tie (bf16 keeps ~3 significant digits)
    top2 = scores32.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 0.02
    assert clear.sum() >= 15  # most images are clear-cut
    assert torch.equal(scores16.float().argmax(1)[clear], scores32.argmax(1)[clear])
    labels16 = torch.tensor([d.pred_label.item() for d in low])
    assert torch.equal(labels16[clear], torch.tensor([d.pred_label.item() for d in fp32])[clear])
    assert len(set(scores32.argmax(1).tolist())) > 1  # not one class for every image
