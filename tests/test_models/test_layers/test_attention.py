# Copyright (c) OpenMMLab. All rights reserved.
import torch
from timm.layers import Attention

from dcal_mm.models.layers import DCALBlock, cross_attention, pair_attention, self_attention


def _kv(attn, x):
    return self_attention(attn, x)[2][1:]


def _explicit(attn, q_in, kv_in):
    """Reference multi-head attention with explicit softmax."""
    H, C = attn.num_heads, q_in.shape[-1]
    W, b = attn.qkv.weight, attn.qkv.bias
    q = (q_in @ W[:C].T + b[:C]).unflatten(-1, (H, C // H)).transpose(1, 2)
    k = (kv_in @ W[C:2 * C].T + b[C:2 * C]).unflatten(-1, (H, C // H)).transpose(1, 2)
    v = (kv_in @ W[2 * C:].T + b[2 * C:]).unflatten(-1, (H, C // H)).transpose(1, 2)
    probs = (q @ k.transpose(-2, -1) / (C // H)**0.5).softmax(-1)
    out = (probs @ v).transpose(1, 2).flatten(2)
    return attn.proj(out), probs


def _attn():
    torch.manual_seed(0)
    return Attention(32, num_heads=4, qkv_bias=True).eval()


def test_self_attention_probs_in_both_grad_modes():
    attn, x = _attn(), torch.randn(2, 10, 32)
    ref_out, ref_probs = _explicit(attn, x, x)
    with torch.no_grad():
        out, probs, _ = self_attention(attn, x, return_probs=True)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(probs, ref_probs.mean(1), rtol=1e-4, atol=1e-6)
    out, probs, _ = self_attention(attn, x, return_probs=True)  # training path: SDPA + recomputed map
    assert out.requires_grad and not probs.requires_grad
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(probs, ref_probs.mean(1), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(self_attention(attn, x)[0], attn(x), rtol=1e-5, atol=1e-6)


def test_pair_attention_is_one_softmax_over_both_images():
    attn = _attn()
    x1, x2 = torch.randn(2, 10, 32), torch.randn(2, 7, 32)
    ref, _ = _explicit(attn, x1, torch.cat([x1, x2], dim=1))
    torch.testing.assert_close(pair_attention(attn, x1, _kv(attn, x2)), ref, rtol=1e-4, atol=1e-5)
    # a partner equal to the target duplicates every key: same output as SA
    torch.testing.assert_close(pair_attention(attn, x1, _kv(attn, x1)), attn(x1), rtol=1e-4, atol=1e-5)


def test_cross_attention_queries_subset():
    attn = _attn()
    x = torch.randn(2, 10, 32)
    ref, _ = _explicit(attn, x[:, [0, 3, 5]], x)
    torch.testing.assert_close(cross_attention(attn, x[:, [0, 3, 5]], x), ref, rtol=1e-4, atol=1e-5)


def test_block_cross_on_all_tokens_equals_block_forward():
    torch.manual_seed(0)
    blk = DCALBlock(32, 4, qkv_bias=True).eval()
    x = torch.randn(2, 10, 32)
    index = torch.arange(10).expand(2, 10)
    torch.testing.assert_close(blk.forward_cross(x, index), blk(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(blk.forward_sa(x)[0], blk(x), rtol=1e-5, atol=1e-6)


def test_pair_attention_reuses_given_projections():
    attn = _attn()
    x1, x2 = torch.randn(2, 10, 32), torch.randn(2, 7, 32)
    ref, _ = _explicit(attn, x1, torch.cat([x1, x2], dim=1))
    qkv = self_attention(attn, x1)[2]
    torch.testing.assert_close(pair_attention(attn, None, _kv(attn, x2), qkv=qkv), ref, rtol=1e-4, atol=1e-5)
    # the given projections are what is used: other tokens' projections give another output
    other = self_attention(attn, x1.flip(1))[2]
    assert (pair_attention(attn, x1, _kv(attn, x2), qkv=other) - ref).abs().max() > 1e-2


def test_self_attention_returns_its_projections():
    attn = _attn()
    x = torch.randn(2, 10, 32)
    q, k, v = self_attention(attn, x)[2]
    W, b = attn.qkv.weight, attn.qkv.bias
    ref = (x @ W.T + b).unflatten(-1, (3, 4, 8)).permute(2, 0, 3, 1, 4)
    for got, want in zip((q, k, v), ref):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
