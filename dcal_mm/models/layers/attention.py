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

    * under ``torch.no_grad`` (inference) they are materialised once and used
      both for the output and the returned map;
    * with gradients enabled the output still comes from fused SDPA (whose
      backward keeps no N x N map alive) and the map is recomputed without
      autograd, so it never joins the graph.

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
        attention dropout, never requiring grad), and (q, k, v), each
        (B, heads, N, C / heads).
    """
    _check_supported(attn)
    q, k, v = _qkv_proj(attn, x)
    if not return_probs:
        return _out_proj(attn, _sdpa(attn, q, k, v)), None, (q, k, v)
    if torch.is_grad_enabled():
        out = _sdpa(attn, q, k, v)
        with torch.no_grad():
            probs = _softmax_probs(attn, q, k).mean(dim=1)
        return _out_proj(attn, out), probs, (q, k, v)
    probs = _softmax_probs(attn, q, k)
    out = attn.attn_drop(probs) @ v
    return _out_proj(attn, out), probs.mean(dim=1), (q, k, v)


def _softmax_probs(attn: Attention, q: Tensor, k: Tensor) -> Tensor:
    # In-place softmax: a second (B, H, N, N) buffer would cost more than
    # the matmul on a CPU (fresh large allocations are page-faulted in).
    probs = (q * attn.scale) @ k.transpose(-2, -1)
    return torch.softmax(probs, dim=-1, out=probs)


def pair_attention(attn: Attention,
                   x: Optional[Tensor],
                   partner_kv: Tuple[Tensor, Tensor],
                   qkv: Optional[QKV] = None) -> Tensor:
    """Pair-wise cross-attention (PWCA, Eq. 4 of DCAL).

    Queries come from ``x``; keys and values are [K1; K2] and [V1; V2] of
    ``x`` and its partner, with one softmax over both.

    Args:
        attn (Attention): The (shared) timm attention module.
        x (Tensor, optional): Normalised tokens of the target, shape
            (B, N, C). May be None when ``qkv`` is given.
        partner_kv (tuple[Tensor, Tensor]): The partner's keys and values,
            each (B, heads, M, C / heads).
        qkv (tuple, optional): The target's own (q, k, v) when already
            computed from the same normalised tokens (the first block, where
            the PWCA stream and SA read the same embedding).

    Returns:
        Tensor: Shape (B, N, C).
    """
    _check_supported(attn)
    q, k, v = _qkv_proj(attn, x) if qkv is None else qkv
    k2, v2 = partner_kv
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
