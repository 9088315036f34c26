# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch

from dcal_mm.models.layers import attention_rollout_cls


def _random_attention(B, N, generator):
    return torch.randn(B, N, N, generator=generator).softmax(dim=-1)


def _reference_rollout(maps, residual=0.5):
    # direct matrix products: S_hat = S_bar_k ... S_bar_1, first row
    eye = torch.eye(maps[0].shape[-1])
    full = eye.expand_as(maps[0]).clone()
    for attn in maps:
        full = ((1 - residual) * attn + residual * eye) @ full
    return full[:, 0]


@pytest.mark.parametrize('depth', [1, 3, 11])
def test_rollout_matches_matrix_product(depth):
    g = torch.Generator().manual_seed(depth)
    maps = [_random_attention(2, 17, g) for _ in range(depth)]
    row = attention_rollout_cls(maps)
    torch.testing.assert_close(row, _reference_rollout(maps), rtol=1e-5, atol=1e-6)
    # S_bar is row-stochastic, so the rollout row is a distribution
    torch.testing.assert_close(row.sum(-1), torch.ones(2))


def test_rollout_order_matters_and_residual():
    g = torch.Generator().manual_seed(0)
    maps = [_random_attention(1, 9, g) for _ in range(3)]
    assert not torch.allclose(attention_rollout_cls(maps), attention_rollout_cls(maps[::-1]))
    torch.testing.assert_close(attention_rollout_cls(maps, residual=0.3), _reference_rollout(maps, 0.3))


def test_rollout_identity_attention_keeps_cls():
    maps = [torch.eye(5).expand(2, 5, 5)] * 4
    expected = torch.zeros(2, 5)
    expected[:, 0] = 1
    torch.testing.assert_close(attention_rollout_cls(maps), expected)


def test_rollout_has_no_grad_and_rejects_empty():
    maps = [_random_attention(1, 4, torch.Generator().manual_seed(1)).requires_grad_()]
    assert not attention_rollout_cls(maps).requires_grad
    with pytest.raises(ValueError, match='at least one attention map'):
        attention_rollout_cls([])
