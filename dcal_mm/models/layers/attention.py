# Copyright (c) OpenMMLab. All rights reserved.
"""Attention variants of DCAL computed with the weights of a timm ``Attention``.

All three reuse ``attn.qkv`` / ``attn.proj``, so SA, PWCA (shared weights) and
GLCA (its own block) stay key-compatible with timm checkpoints.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from timm.layers import Attention
from torch import Tensor


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    B, N, C = x.shape
    return x.reshape(B, N, num_heads, C // num_heads).transpose(1, 2)


def _merge_heads(x: Tensor) -> Tensor:
    B, H, N, D = x.shape
    return x.transpose(1, 2).reshape(B, N, H * D)


def _q_proj(attn: Attention, x: Tensor) -> Tensor:
    dim = attn.qkv.out_features // 3
    bias = attn.qkv.bias[:dim] if attn.qkv.bias is not None else None
    return attn.q_norm(_split_heads(F.linear(x, attn.qkv.weight[:dim], bias), attn.num_heads))


def _kv_proj(attn: Attention, x: Tensor) -> Tuple[Tensor, Tensor]:
    dim = attn.qkv.out_features // 3
    bias = attn.qkv.bias[dim:] if attn.qkv.bias is not None else None
    k, v = F.linear(x, attn.qkv.weight[dim:], bias).chunk(2, dim=-1)
    return attn.k_norm(_split_heads(k, attn.num_heads)), _split_heads(v, attn.num_heads)


def _qkv_proj(attn: Attention, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    q, k, v = attn.qkv(x).chunk(3, dim=-1)
    return (attn.q_norm(_split_heads(q, attn.num_heads)), attn.k_norm(_split_heads(k, attn.num_heads)),
            _split_heads(v, attn.num_heads))


def _out_proj(attn: Attention, x: Tensor) -> Tensor:
    return attn.proj_drop(attn.proj(attn.norm(_merge_heads(x))))


def _sdpa(attn: Attention, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    p = attn.attn_drop.p if attn.training else 0.
    return F.scaled_dot_product_attention(q, k, v, dropout_p=p)


def _check_supported(attn: Attention) -> None:
    if getattr(attn, 'gate', None) is not None:
        raise ValueError('DCAL attention does not support gated timm Attention (attn.gate must be None)')


QKV = Tuple[Tensor, Tensor, Tensor]


def self_attention(attn: Attention,
                   x: Tensor,
                   return_probs: bool = False) -> Tuple[Tensor, Optional[Tensor], QKV]:
    """Self-attention of ``attn`` on ``x``, optionally with its head-averaged map.

    Without ``return_probs`` this is the fused SDPA path, as in timm. With it,
    the probabilities softmax(QK^T / sqrt(d)) are needed outside the layer
    (attention rollout), so:

    * under ``torch.no_grad`` (inference) they are computed once and used
      both for the output and the returned map (see :func:`attention_map`);
    * with gradients enabled, on a CPU (float32/float64, no attention
      dropout), the output and the map come from the same per-block pass
      (:class:`_SelfAttentionWithMap`), whose backward is the fused SDPA
      backward, so no N x N map joins the graph; elsewhere the output comes
      from fused SDPA and the map is recomputed without autograd.

    The queries, keys and values are returned too: PWCA reads a partner's
    keys/values and reuses the first block's projections from here. They are
    the tensors SDPA saves for its backward anyway, so keeping them costs no
    memory.

    Args:
        attn (Attention): A timm attention module.
        x (Tensor): Normalised tokens, shape (B, N, C).
        return_probs (bool): Whether to return the head-averaged map.

    Returns:
        tuple: Output (B, N, C), the map (B, N, N) or None (taken before
        attention dropout, float32, never requiring grad), and (q, k, v),
        each (B, heads, N, C / heads).
    """
    _check_supported(attn)
    q, k, v = _qkv_proj(attn, x)
    if not return_probs:
        return _out_proj(attn, _sdpa(attn, q, k, v)), None, (q, k, v)
    if map_in_one_pass(attn, x):
        out, probs = _SelfAttentionWithMap.apply(q, k, v, attn.scale)
        return _out_proj(attn, out), probs, (q, k, v)
    if torch.is_grad_enabled() or (attn.training and attn.attn_drop.p > 0):
        return _out_proj(attn, _sdpa(attn, q, k, v)), attention_map(attn, q, k), (q, k, v)
    probs, out = _probs_and_output(attn.scale, q, k, v)
    return _out_proj(attn, out.to(v.dtype)), probs, (q, k, v)


def attention_map(attn: Attention, q: Tensor, k: Tensor) -> Tensor:
    """Head-averaged softmax(QK^T / sqrt(d)), in float32 and without autograd.

    What the attention rollout reads. It is computed in float32 with
    autocast disabled, so under bf16/fp16 autocast the rollout (and so the
    GLCA selection) is not made from low-precision probabilities.

    Args:
        attn (Attention): The timm attention module (for its scale).
        q (Tensor): Queries, (B, heads, N, C / heads).
        k (Tensor): Keys, (B, heads, M, C / heads).

    Returns:
        Tensor: Shape (B, N, M), float32, no grad.
    """
    return _probs_and_output(attn.scale, q, k)[0]


# Rows of queries per step of the CPU path: a (rows, N) block of probabilities (~1.25 MB) stays in a core's cache
# through the product, the softmax, the value product and the head average.
_CPU_BLOCK_FLOATS = 320_000


@torch.no_grad()
def _probs_and_output(scale: float,
                      q: Tensor,
                      k: Tensor,
                      v: Optional[Tensor] = None,
                      blocked: Optional[bool] = None,
                      lse: Optional[Tensor] = None):
    """Head-averaged probabilities (B, N, M) and, with ``v``, the attention output (B, heads, N, D), float32.

    ``lse`` (B, heads, N), CPU path only, receives the log-sum-exp of each row of scores (what the fused
    attention backward reads): with m the row's largest score, the largest probability is exp(m - lse), so
    lse = m - log(max p) costs two row maxima and no further exponentials.

    On a GPU: batched products over all heads. On a CPU the (B, heads, N, M) probabilities are never
    materialised: per image, block of query rows and head, the scores, the in-place softmax, the value product
    and the accumulation into the head average all read a block that stays in cache. The same numbers either way
    (float32, autocast off; float64 inputs are computed in float64, the map returned in float32). ``blocked``
    overrides the choice (default: blocks on a CPU).
    """
    with torch.autocast(q.device.type, enabled=False):
        dtype = torch.promote_types(q.dtype, torch.float32)
        q, k = q.to(dtype), k.to(dtype)
        v = None if v is None else v.to(dtype)
        if blocked is None:
            # the per-image loops would be unrolled at the traced batch size in an ONNX / TorchScript export
            blocked = q.device.type == 'cpu' and not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())
        if not blocked:
            probs = (q * scale) @ k.transpose(-2, -1)
            torch.softmax(probs, dim=-1, out=probs)  # in place: no second (B, H, N, M) buffer
            return probs.mean(dim=1).float(), (None if v is None else probs @ v)
        B, H, N, _ = q.shape
        M = k.shape[2]
        rows = max(16, _CPU_BLOCK_FLOATS // M)
        probs = q.new_empty(B, N, M)
        out = None if v is None else q.new_empty(B, H, N, v.shape[-1])
        buffer = q.new_empty(min(rows, N), M)
        for b in range(B):
            for r in range(0, N, rows):
                acc = probs[b, r:r + rows]  # contiguous rows: head 0 is computed in place there
                for h in range(H):
                    block = acc if h == 0 else buffer[:acc.shape[0]]
                    torch.mm(q[b, h, r:r + rows] * scale, k[b, h].t(), out=block)
                    if lse is not None:
                        top = block.amax(dim=-1)
                    torch.softmax(block, dim=-1, out=block)
                    if lse is not None:
                        torch.sub(top, block.amax(dim=-1).log_(), out=lse[b, h, r:r + rows])
                    if out is not None:
                        torch.mm(block, v[b, h], out=out[b, h, r:r + rows])
                    if h > 0:
                        acc.add_(block)
        return probs.div_(H).float(), out


class _SelfAttentionWithMap(torch.autograd.Function):
    """softmax(Q K^T * scale) V and its head-averaged probabilities from one pass (CPU).

    The forward is :func:`_probs_and_output`'s per-block pass, which also
    writes each row's log-sum-exp; the backward is the fused attention
    backward with that (O, L), as if the output had come from the fused
    forward. Training's rollout maps thus cost no second Q K^T product. The
    map is returned without gradient.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, scale: float) -> Tuple[Tensor, Tensor]:
        B, H, N, _ = q.shape
        lse = q.new_empty(B, H, N)
        probs, out = _probs_and_output(scale, q, k, v, blocked=True, lse=lse)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.scale = scale
        ctx.mark_non_differentiable(probs)
        return out, probs

    @staticmethod
    def backward(ctx, grad: Tensor, _):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = _flash_cpu_backward(grad, q, k, v, out, lse, 0., False, scale=ctx.scale)
        return dq, dk, dv, None


class _MergedPairAttention(torch.autograd.Function):
    """softmax([Q K^T, Q K2^T] * scale) [V; V2] without concatenating keys.

    K2, V2 are the partners' keys/values, ``k_src[partners]`` and
    ``v_src[partners]``. The forward runs two fused CPU attentions (own keys,
    partner keys) that return their log-sum-exp and merges them: with
    L = logaddexp(L1, L2), O = exp(L1 - L) O1 + exp(L2 - L) O2, which is
    exactly the softmax over both key sets. The backward is that of the joint
    softmax: the fused backward of the own keys with the merged (O, L) gives
    dQ1, dK, dV; the partner half, per image and head, recomputes
    P2 = exp(scale * Q K2^T - L) and, with D = rowsum(dO * O), gives
    dQ2 = scale * (P2 * (dO V2^T - D)) K2: for a detached partner three
    products per image and head; for a partner with gradient the fused
    backward of its keys with the merged (O, L) gives dQ2, dK2 and dV2, which
    are added into the partner's rows of ``k_src`` / ``v_src``. Only the
    source keys/values and the index are saved, never gathered copies.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, k_src: Tensor, v_src: Tensor, partners: Tensor,
                scale: float) -> Tensor:
        o1, lse1 = _flash_cpu(q, k, v, scale=scale)
        o2, lse2 = _flash_cpu(q, k_src.index_select(0, partners), v_src.index_select(0, partners), scale=scale)
        lse = torch.logaddexp(lse1, lse2)
        out = o1.mul_((lse1 - lse).exp_().unsqueeze(-1)).add_(o2.mul_((lse2 - lse).exp_().unsqueeze(-1)))
        ctx.save_for_backward(q, k, v, k_src, v_src, partners, out, lse)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        q, k, v, k_src, v_src, partners, out, lse = ctx.saved_tensors
        scale = ctx.scale
        dq, dk, dv = _flash_cpu_backward(grad, q, k, v, out, lse, 0., False, scale=scale)
        if ctx.needs_input_grad[3] or ctx.needs_input_grad[4]:
            # a partner with gradient: the fused backward of the partner keys with the merged (O, L) is exactly
            # the joint softmax's gradient for them (dQ2, dK2, dV2); the gathered copies live in this pass only
            k2, v2 = k_src.index_select(0, partners), v_src.index_select(0, partners)
            dq2, dk2, dv2 = _flash_cpu_backward(grad, q, k2, v2, out, lse, 0., False, scale=scale)
            dk_src = torch.zeros_like(k_src).index_add_(0, partners, dk2)
            dv_src = torch.zeros_like(v_src).index_add_(0, partners, dv2)
            return dq.add_(dq2), dk, dv, dk_src, dv_src, None, None
        rowdot = (grad * out).sum(-1, keepdim=True).to(q.dtype)
        lse = lse.unsqueeze(-1).to(q.dtype)
        # A detached partner needs only dQ2 = scale * (P2 * (dO V2^T - D)) K2: three products per image and head
        # instead of the fused kernel's five. One (N, M) block per image and head: the products read the strided
        # per-head views directly (no gathered or transposed copies) and the block stays in cache.
        for b, p in enumerate(partners.tolist()):
            for h in range(q.shape[1]):
                k2, v2 = k_src[p, h], v_src[p, h]
                probs = torch.addmm(lse[b, h], q[b, h], k2.t(), beta=-1, alpha=scale).exp_()
                dprobs = torch.addmm(rowdot[b, h], grad[b, h], v2.t(), beta=-1)
                dq[b, h].addmm_(probs.mul_(dprobs), k2, alpha=scale)
        return dq, dk, dv, None, None, None, None


_flash_cpu = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_flash_cpu_backward = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward
PAIR_IMPLS = ('auto', 'merge', 'concat')


def _cpu_fusable(attn: Attention, *tensors: Tensor) -> bool:
    """Whether the CPU kernels with a log-sum-exp apply: CPU, one dtype, float32/float64, no attention dropout,
    not traced for an export."""
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return False
    return (all(t.device.type == 'cpu' and t.dtype in (torch.float32, torch.float64) for t in tensors)
            and len({t.dtype for t in tensors}) == 1 and not (attn.training and attn.attn_drop.p > 0))


def map_in_one_pass(attn: Attention, x: Tensor) -> bool:
    """Whether :func:`self_attention` on tokens ``x`` makes its map in the pass that makes its output
    (:class:`_SelfAttentionWithMap`: gradients enabled, CPU, float32/float64, no autocast, no attention dropout).
    Elsewhere the map is a separate product, which a gradient checkpoint's recomputation should not repeat. The
    one test for both: the attention itself and :class:`DCALViT`'s checkpointing."""
    autocast = x.device.type == 'cpu' and torch.is_autocast_enabled('cpu')
    return torch.is_grad_enabled() and not autocast and _cpu_fusable(attn, x)


def pair_attention(attn: Attention,
                   x: Optional[Tensor],
                   partner_kv: Optional[Tuple[Tensor, Tensor]] = None,
                   qkv: Optional[QKV] = None,
                   partners: Optional[Tensor] = None,
                   impl: str = 'auto',
                   detach_partner: bool = False,
                   cls_only: bool = False) -> Tensor:
    """Pair-wise cross-attention (PWCA, Eq. 4 of DCAL).

    Queries come from ``x``; keys and values are [K1; K2] and [V1; V2] of
    ``x`` and its partner, with one softmax over both.

    Two implementations give the same result and the same gradients:

    * ``'concat'``: fused SDPA over the concatenated keys/values (any device,
      dtype and dropout);
    * ``'merge'``: the two key sets attended separately and merged through
      their log-sum-exp (:class:`_MergedPairAttention`), with no concatenated
      or gathered copies kept for the backward, whose partner half computes
      the partner's key/value gradients only when they are needed. CPU,
      float32/float64, no attention dropout.

    ``'auto'`` takes ``'merge'`` where it applies, else ``'concat'``.

    Args:
        attn (Attention): The (shared) timm attention module.
        x (Tensor, optional): Normalised tokens of the target, shape
            (B, N, C). May be None when ``qkv`` is given.
        partner_kv (tuple[Tensor, Tensor], optional): The keys and values
            (B', heads, M, C / heads) that ``partners`` indexes (with
            ``partners=None``: the partners' own, B' = B). None: the keys and
            values of ``x`` itself, so each target attends to its partner's
            tokens of the same stream.
        qkv (tuple, optional): The target's own (q, k, v) when already
            computed from the same normalised tokens (the first block, where
            the PWCA stream and SA read the same embedding).
        partners (Tensor, optional): Index into ``partner_kv`` of each
            target's partner, shape (B, ).
        impl (str): ``'auto'``, ``'merge'`` or ``'concat'``.
        detach_partner (bool): Stop the gradient through the partner's keys
            and values (the partner is then context only).
        cls_only (bool): Only the first (class) token is a query; keys and
            values are still all tokens of both images.

    Returns:
        Tensor: Shape (B, N, C), or (B, 1, C) with ``cls_only``.
    """
    _check_supported(attn)
    if impl not in PAIR_IMPLS:
        raise ValueError(f'pair_attention impl must be one of {PAIR_IMPLS}, got {impl!r}')
    if qkv is not None:
        q, k, v = qkv
        q = q[:, :, :1] if cls_only else q
    elif cls_only:
        q, (k, v) = _q_proj(attn, x[:, :1]), _kv_proj(attn, x)
    else:
        q, k, v = _qkv_proj(attn, x)
    k_src, v_src = (k, v) if partner_kv is None else partner_kv
    if detach_partner:
        k_src, v_src = k_src.detach(), v_src.detach()
    if partners is None:
        partners = torch.arange(k_src.shape[0], device=k_src.device)
    mergeable = _cpu_fusable(attn, q, k, v, k_src, v_src)
    if impl == 'merge' and not mergeable:
        raise ValueError("pair_attention impl='merge' needs CPU float32/float64 tensors of one dtype and no "
                         'attention dropout')
    if impl != 'concat' and mergeable:
        out = _MergedPairAttention.apply(q, k, v, k_src, v_src, partners.to(k_src.device), attn.scale)
    else:
        k2, v2 = k_src.index_select(0, partners), v_src.index_select(0, partners)
        out = _sdpa(attn, q, torch.cat([k, k2], dim=2), torch.cat([v, v2], dim=2))
    return _out_proj(attn, out)


def cross_attention(attn: Attention, x_q: Tensor, x_kv: Tensor) -> Tensor:
    """Cross-attention of selected queries to all tokens (GLCA, Eq. 3 of DCAL).

    Only the selected tokens are projected to queries, so the cost of Q, the
    output projection and what follows scales with R, not N.

    Args:
        attn (Attention): The GLCA block's timm attention module.
        x_q (Tensor): Normalised selected tokens, shape (B, R, C).
        x_kv (Tensor): Normalised tokens of the whole sequence, shape (B, N, C).

    Returns:
        Tensor: Shape (B, R, C).
    """
    _check_supported(attn)
    k, v = _kv_proj(attn, x_kv)
    return _out_proj(attn, _sdpa(attn, _q_proj(attn, x_q), k, v))
