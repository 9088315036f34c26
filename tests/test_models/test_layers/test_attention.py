# Copyright (c) OpenMMLab. All rights reserved.
import pytest
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


@pytest.mark.parametrize('detach', [True, False])
def test_merged_pair_attention_equals_concatenated_keys_with_gradients(detach):
    """The log-sum-exp merge (CPU) against fused SDPA over [K1; K2]: same output and same gradients for the
    target's queries/keys/values, the weights and, unless detached, the partners' source keys/values."""
    attn = _attn()
    x = torch.randn(3, 10, 32, requires_grad=True)
    src = torch.randn(3, 7, 32, requires_grad=True)
    partners = torch.tensor([2, 0, 0])  # image 0 is the partner of two targets: its gradients add up
    grad_out = torch.randn(3, 10, 32)
    results = {}
    for impl in ('merge', 'concat'):
        attn.zero_grad()
        x.grad = src.grad = None
        out = pair_attention(attn, x, _kv(attn, src), partners=partners, impl=impl, detach_partner=detach)
        out.backward(grad_out)
        src_grad = torch.zeros_like(src) if src.grad is None else src.grad.clone()
        results[impl] = [out.detach(), x.grad.clone(), src_grad] + [p.grad.clone() for p in attn.parameters()]
    for got, want in zip(results['merge'], results['concat']):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    assert (results['merge'][2].abs().sum() == 0) == detach  # the partner learns unless detached
    # the partner index is what is used
    kv = tuple(t.detach() for t in _kv(attn, src))
    other = pair_attention(attn, x, kv, partners=torch.tensor([1, 2, 0]), impl='merge')
    assert (other - results['merge'][0]).abs().max() > 1e-3


@pytest.mark.parametrize('impl', ['merge', 'concat'])
@pytest.mark.parametrize('given_qkv', [False, True])
def test_pair_attention_of_the_class_token_only(impl, given_qkv):
    """``cls_only`` is row 0 of the full pair attention, with the same gradients for the target's tokens and the
    partners' keys/values (row 0 attends to every token of both images), from tokens or from given projections."""
    attn = _attn().double()
    x = torch.randn(3, 10, 32, dtype=torch.float64, requires_grad=True)
    src = torch.randn(3, 7, 32, dtype=torch.float64, requires_grad=True)
    partners = torch.tensor([2, 0, 0])
    grad_out = torch.randn(3, 1, 32, dtype=torch.float64)
    results = []
    for cls_only in (False, True):
        attn.zero_grad()
        x.grad = src.grad = None
        inputs = dict(x=None, qkv=self_attention(attn, x)[2]) if given_qkv else dict(x=x)
        out = pair_attention(attn, partner_kv=_kv(attn, src), partners=partners, impl=impl,
                             cls_only=cls_only, **inputs)
        out = out if cls_only else out[:, :1]
        out.backward(grad_out)
        results.append([out.detach(), x.grad, src.grad] + [p.grad.clone() for p in attn.parameters()])
    assert results[1][0].shape == (3, 1, 32)
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_merged_pair_attention_gradcheck():
    """Exact gradients of the merge itself (float64 numerical check), own keys 5, partner keys 6, with and without
    the source keys/values' gradients; source image 0 is the partner of both targets, image 1 of none."""
    from dcal_mm.models.layers.attention import _MergedPairAttention
    q, k, v = (torch.randn(2, 2, 5, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    ks, vs = (torch.randn(3, 2, 6, 4, dtype=torch.float64, requires_grad=True) for _ in range(2))
    partners = torch.tensor([0, 0])

    def fn(*args):
        return _MergedPairAttention.apply(*args, partners, 0.5)

    assert torch.autograd.gradcheck(fn, (q, k, v, ks, vs))
    assert torch.autograd.gradcheck(fn, (q, k, v, ks.detach(), vs.detach()))


def test_pair_attention_falls_back_to_concatenation_where_merge_does_not_apply():
    attn = _attn()
    x, x2 = torch.randn(2, 10, 32), torch.randn(2, 7, 32)
    ref, _ = _explicit(attn, x, torch.cat([x, x2], dim=1))
    kv = _kv(attn, x2)
    torch.testing.assert_close(pair_attention(attn, x, kv), ref, rtol=1e-4, atol=1e-5)
    attn.train()
    attn.attn_drop.p = 0.1  # attention dropout: only the fused kernel applies it
    with pytest.raises(ValueError, match="impl='merge' needs"):
        pair_attention(attn, x, kv, impl='merge')
    attn.eval()
    with torch.autocast('cpu', dtype=torch.bfloat16):  # bf16: concatenation
        low = pair_attention(attn, x, tuple(t.detach() for t in kv))
    torch.testing.assert_close(low.float(), ref, rtol=0.05, atol=0.05)


def test_cpu_blocked_probabilities_equal_the_batched_ones():
    from dcal_mm.models.layers import attention as attention_module
    attn = _attn()
    q, k, v = self_attention(attn, torch.randn(3, 37, 32))[2]
    batched = attention_module._probs_and_output(attn.scale, q, k, v, blocked=False)
    blocked_default = attention_module._probs_and_output(attn.scale, q, k, v)  # CPU: blocked
    old = attention_module._CPU_BLOCK_FLOATS
    attention_module._CPU_BLOCK_FLOATS = 16 * 37  # several row blocks of 16 queries
    try:
        lse = q.new_empty(q.shape[:3])
        blocked = attention_module._probs_and_output(attn.scale, q, k, v, blocked=True, lse=lse)
    finally:
        attention_module._CPU_BLOCK_FLOATS = old
    for got in (blocked_default, blocked):
        for a, b in zip(got, batched):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    ref_probs = (q @ k.transpose(-2, -1) * attn.scale).softmax(-1)
    torch.testing.assert_close(batched[0], ref_probs.mean(1), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(batched[1], ref_probs @ v, rtol=1e-5, atol=1e-6)
    # the log-sum-exp each row block writes is that of its scores
    torch.testing.assert_close(lse, (q @ k.transpose(-2, -1) * attn.scale).logsumexp(-1), rtol=1e-6, atol=1e-6)


def test_training_self_attention_with_its_map_has_exact_gradients():
    """With gradients on a CPU, output and map come from one blocked pass and the backward is the fused one
    with that pass's log-sum-exp: output, map and gradients (queries' tokens, weights) equal the explicit
    softmax, in float64; the map carries no gradient."""
    from dcal_mm.models.layers import attention as attention_module
    attn = _attn().double()
    x = torch.randn(2, 23, 32, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(2, 23, 32, dtype=torch.float64)
    calls = []
    forward = attention_module._SelfAttentionWithMap.forward
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(attention_module._SelfAttentionWithMap, 'forward',
                   staticmethod(lambda *a: calls.append(1) or forward(*a)))
        out, probs, _ = self_attention(attn, x, return_probs=True)
    assert calls and not probs.requires_grad
    out.backward(grad_out)
    got = [out.detach(), probs, x.grad.clone()] + [p.grad.clone() for p in attn.parameters()]
    attn.zero_grad()
    x.grad = None
    ref_out, ref_probs = _explicit(attn, x, x)
    ref_out.backward(grad_out)
    want = [ref_out.detach(), ref_probs.mean(1).float(), x.grad] + [p.grad for p in attn.parameters()]
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)
