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

    Random weights, but classifiers drawn with std 0.1 instead of 0.01, so that some class scores are clear-cut (and
    the summed SA + GLCA scores not all 0.5 / 0.5 splits between two saturated branches, as with std 1).
    """
    cfg = Config.fromfile(CONFIG)
    cfg.model.head.init_cfg = dict(type='Normal', layer='Linear', std=0.1)
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


# bf16 keeps 8 significant bits; eps = 2^-7 is the spacing of bf16 numbers at 1 (a rounding moves a number by at
# most eps / 2 of its size). A forward in bf16 gives the float32 logits up to a few such roundings of the logit
# scale: within K bf16 ulps of max |logit| of the image, whatever the size of the weights (measured on this demo:
# at most 2.2 ulps over 36 random models, classifier std 0.01 to 10).
EPS16 = torch.finfo(torch.bfloat16).eps
K = 4


def _branches(model, inputs, scores=None):
    """SA and GLCA logits (float), the rollout CLS row and GLCA's token selection of one forward; GLCA selects by
    ``scores`` when given (e.g. float32's rollout in a bf16 forward) instead of by this forward's rollout."""
    sa, tokens, rollout = model.backbone(inputs)
    glca = model.glca((sa, tokens, rollout if scores is None else scores))[0]
    logits = model.head((sa, glca))
    return logits['sa'].float(), logits['glca'].float(), rollout.float(), model.glca.select(rollout)


def _same_selection(a, b):
    return (a.sort(1).values == b.sort(1).values).all(1)


def test_bf16_logits_are_float32_logits_to_bf16_precision(demo):
    """What bf16 may change: every logit, by rounding, within K bf16 ulps of the image's logit scale; and GLCA's
    tokens where the rollout ranks them in near-ties (a random model's rollout is nearly flat: here GLCA is
    compared on float32's tokens, and the selection separately)."""
    model, _, test = demo
    model.eval()
    inputs = model.data_preprocessor(copy.deepcopy(test), False)['inputs']
    with torch.no_grad():
        sa32, glca32, roll32, sel32 = _branches(model, inputs)
        with bf16():
            sa16, glca16, roll16, sel16 = _branches(model, inputs, scores=roll32)
    for name, z16, z32 in (('SA', sa16, sa32), ('GLCA', glca16, glca32)):
        ulps = (z16 - z32).abs().max(1).values / (EPS16 * z32.abs().max(1).values)
        assert (ulps <= K).all(), f'{name} logits off by up to {ulps.max():.1f} bf16 ulps of their scale'
    # the rollout is float32 arithmetic on maps made from bf16 queries and keys: within one bf16 ulp of its top
    # patch score (measured: 0.03)
    top = roll32[:, 1:].max(1).values
    roll_err = (roll16 - roll32).abs().max(1).values
    assert (roll_err <= EPS16 * top).all()
    # so bf16 selects float32's tokens wherever the R-th and (R+1)-th patch scores are further apart than the
    # rollout moved (twice over: one may rise, the other fall)
    R = sel32.shape[1]
    ranked = roll32[:, 1:].sort(1, descending=True).values
    apart = ranked[:, R - 1] - ranked[:, R] > 2 * roll_err
    assert _same_selection(sel16, sel32)[apart].all()


def test_bf16_predictions_are_float32_predictions_up_to_bf16_precision(demo):
    """bf16 inference (``test_step`` under autocast) picks a class that float32 ranks top up to bf16's error, on
    every image and in every prediction mode; so the two predictions are equal wherever float32's top-1 is
    clear-cut. This holds for any model, confident or near-uniform.

    Each logit moves by at most delta = K ulps of the image's logit scale (previous test), so each softmax
    probability, and a mean of two such probabilities (``predict_mode='sum'``), by a factor within
    exp(+-2 delta); bf16 then rounds the scores (at most eps of their size, two roundings). bf16's class thus has
    a float32 score within a factor exp(4 delta + 2 eps) of float32's top score. Where GLCA takes part, this is
    asked of the images on which bf16 selects float32's GLCA tokens (another selection is another feature, not a
    rounding). Each branch is checked alone too: in the sum a wrong branch is diluted.
    """
    model, _, test = demo
    model = copy.deepcopy(model)  # predict_mode is set on this copy only
    model.eval()
    inputs = model.data_preprocessor(copy.deepcopy(test), False)['inputs']
    with torch.no_grad():
        sa32, glca32, _, sel32 = _branches(model, inputs)
        with bf16():
            *_, sel16 = _branches(model, inputs)
    same_tokens = _same_selection(sel16, sel32)
    num_clear = 0
    for predict_mode in ('sum', 'sa', 'glca'):
        model.head.predict_mode = predict_mode
        with torch.no_grad():
            fp32 = model.test_step(copy.deepcopy(test))
            with bf16():
                low = model.test_step(copy.deepcopy(test))
        scores32 = torch.stack([d.pred_score for d in fp32])
        scores16 = torch.stack([d.pred_score for d in low])
        assert len(fp32) == len(low) == 30
        assert scores32.dtype == torch.float32 and scores16.dtype == torch.bfloat16  # bf16 really ran
        scores16 = scores16.float()
        # both are probability vectors: finite, in [0, 1], rows summing to 1 up to a few roundings of their dtype
        for scores, atol in ((scores32, 1e-5), (scores16, 2 * EPS16)):
            assert torch.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1 + atol).all()
            torch.testing.assert_close(scores.sum(1), torch.ones(len(scores)), rtol=0, atol=atol)
        # the predicted labels are the scores' argmax in both precisions
        labels32 = torch.tensor([d.pred_label.item() for d in fp32])
        labels16 = torch.tensor([d.pred_label.item() for d in low])
        assert torch.equal(labels32, scores32.argmax(1)) and torch.equal(labels16, scores16.argmax(1))
        # bf16's class is a float32 top class up to bf16's error
        used = {'sum': (sa32, glca32), 'sa': (sa32, ), 'glca': (glca32, )}[predict_mode]
        delta = K * EPS16 * torch.stack([z.abs().max(1).values for z in used]).max(0).values
        bound = 4 * delta + 2 * EPS16
        checked = torch.ones_like(same_tokens) if predict_mode == 'sa' else same_tokens
        lost = scores32.max(1).values.log() - scores32.gather(1, labels16[:, None])[:, 0].log()
        assert (lost <= bound)[checked].all(), \
            f'{predict_mode}: bf16 chose classes below float32\'s top by log-factors {lost[checked].tolist()}, ' \
            f'more than bf16 can move them ({bound[checked].tolist()})'
        # hence equal predictions where float32 is clear-cut
        top2 = scores32.topk(2, dim=1).values
        clear = checked & (top2[:, 0].log() - top2[:, 1].log() > bound)
        assert torch.equal(labels16[clear], labels32[clear])
        num_clear += int(clear.sum())
    # the check bites: on some images a wrong bf16 class would be caught (a model of near-ties only leaves none)
    assert num_clear > 0
