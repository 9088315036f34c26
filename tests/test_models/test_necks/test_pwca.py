# Copyright (c) OpenMMLab. All rights reserved.
"""PWCA's partner options against a written-out reference: outputs and gradients."""
import pytest
import torch
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401
from dcal_mm.models.layers import attention as attention_module

TINY = dict(embed_dims=32, num_layers=3, num_heads=2, patch_size=8)
OPTIONS = [(stream, detach) for stream in ('sa', 'pwca') for detach in (False, True)]


def _backbone(seed=0):
    torch.manual_seed(seed)
    bb = MODELS.build(dict(type='DCALViT', arch=TINY, img_size=32, drop_path_rate=0.))
    bb.eval()  # BaseBackbone.train returns None
    return bb.double()  # float64: gradients compared to 1e-9, far below what a wrong mechanism changes


def _reference(bb, images, partners, stream, detach, num_blocks=None):
    """PWCA written out: explicit softmax over [K_target; K_partner] in the first T blocks, the partner's keys and
    values from its SA stream or from the PWCA stream (every image is a target), detached or not; then the final
    norm and the class token."""
    C, H = bb.embed_dims, bb.num_heads
    num_blocks = num_blocks or len(bb.blocks)

    def heads(t):
        return t.unflatten(-1, (H, C // H)).transpose(1, 2)

    sa = x = bb.embed(images)
    for i, blk in enumerate(bb.blocks):
        if i >= num_blocks:
            x = blk(x)
            continue
        q, k, v = (heads(t) for t in blk.attn.qkv(blk.norm1(x)).chunk(3, dim=-1))
        _, k_p, v_p = (heads(t) for t in blk.attn.qkv(blk.norm1(sa if stream == 'sa' else x)).chunk(3, dim=-1))
        k_p, v_p = (k_p.detach(), v_p.detach()) if detach else (k_p, v_p)
        k_all = torch.cat([k, k_p[partners]], dim=2)
        v_all = torch.cat([v, v_p[partners]], dim=2)
        probs = (q @ k_all.transpose(-2, -1) * (C // H)**-0.5).softmax(-1)
        x = x + blk.attn.proj((probs @ v_all).transpose(1, 2).flatten(2))
        x = x + blk.mlp(blk.norm2(x))
        sa = blk(sa)
    return bb.norm(x)[:, 0]


def _ours(bb, pwca, images, partners):
    tokens = bb.embed(images)
    _, qkv = bb.forward_tokens(tokens, with_rollout=False, return_qkv=True)
    return bb.norm(pwca(bb.blocks, tokens, qkv, partners))[:, 0]


def _grads(bb, fn, images, proj):
    """Feature and the gradients of a random projection of it w.r.t. every weight and every image."""
    bb.zero_grad()
    images = images.clone().requires_grad_()
    feat = fn(images)
    (feat * proj).sum().backward()
    return [feat.detach(), images.grad] + [p.grad.clone() for p in bb.parameters()]


@pytest.mark.parametrize('impl', ['merge', 'concat'])
@pytest.mark.parametrize('stream,detach', OPTIONS)
def test_partner_options_equal_the_reference_with_gradients(stream, detach, impl, monkeypatch):
    if impl == 'concat':  # the fused attention over concatenated keys, as on a GPU
        monkeypatch.setattr(attention_module, '_cpu_fusable', lambda *a: False)
    bb = _backbone()
    pwca = MODELS.build(dict(type='PWCA', partner_stream=stream, detach_partner=detach))
    images = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    partners = torch.tensor([2, 0, 3, 1])
    proj = torch.randn(4, 32, dtype=torch.float64)
    ours = _grads(bb, lambda im: _ours(bb, pwca, im, partners), images, proj)
    ref = _grads(bb, lambda im: _reference(bb, im, partners, stream, detach), images, proj)
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9)


def test_the_options_are_four_different_mechanisms():
    """The reference comparison is not vacuous: the stream changes the feature, the detach changes the gradients,
    and only a detached partner is context only (no gradient reaches its image)."""
    bb = _backbone()
    images = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    partners = torch.tensor([2, 0, 3, 1])
    proj = torch.zeros(4, 32, dtype=torch.float64)
    proj[0] = torch.randn(32, dtype=torch.float64)  # only image 0's feature: its partner is image 2, which nobody else draws
    results = {opt: _grads(bb, lambda im: _reference(bb, im, partners, *opt), images, proj) for opt in OPTIONS}
    assert (results[('sa', False)][0] - results[('pwca', False)][0]).abs().max() > 1e-3
    for stream in ('sa', 'pwca'):
        free, detached = results[(stream, False)], results[(stream, True)]
        torch.testing.assert_close(free[0], detached[0])  # same forward
        assert free[1][2].abs().sum() > 0  # the gradient reaches the partner's image
        if stream == 'sa':  # through the partner's SA keys/values only: detached, none does
            assert detached[1][2].abs().sum() == 0
        weight_gap = max((a - b).abs().max() for a, b in zip(free[2:], detached[2:]))
        assert weight_gap > 1e-4


def test_the_pwca_stream_partner_at_depth_one_is_the_sa_partner():
    """Block 1 reads the embedded tokens in both streams: with T = 1 the two streams are the same mechanism."""
    bb = _backbone()
    images = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    partners = torch.tensor([1, 2, 0])
    with torch.no_grad():
        a = _ours(bb, MODELS.build(dict(type='PWCA', num_blocks=1, partner_stream='sa')), images, partners)
        b = _ours(bb, MODELS.build(dict(type='PWCA', num_blocks=1, partner_stream='pwca')), images, partners)
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, _reference(bb, images, partners, 'sa', False, num_blocks=1), rtol=1e-7,
                                   atol=1e-9)


def test_with_cp_keeps_the_partner_gradients():
    bb = _backbone()
    images = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    partners = torch.tensor([2, 0, 3, 1])
    proj = torch.randn(4, 32, dtype=torch.float64)
    for stream in ('sa', 'pwca'):
        plain = MODELS.build(dict(type='PWCA', partner_stream=stream))
        cp = MODELS.build(dict(type='PWCA', partner_stream=stream, with_cp=True))
        a = _grads(bb, lambda im: _ours(bb, plain, im, partners), images, proj)
        b = _grads(bb, lambda im: _ours(bb, cp, im, partners), images, proj)
        for got, want in zip(a, b):
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize('cfg,match', [(dict(partner_stream='gla'), 'partner_stream must be one of'),
                                       (dict(detach_partner='yes'), 'detach_partner must be True or False'),
                                       (dict(num_blocks=0), 'num_blocks must be >= 1')])
def test_bad_options_are_clear_errors(cfg, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(type='PWCA', **cfg))
