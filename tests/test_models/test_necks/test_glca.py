# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch

from dcal_mm.models.layers import DCALBlock
from dcal_mm.models.necks import GLCA


def _glca(**kwargs):
    torch.manual_seed(0)
    glca = GLCA(embed_dims=16, num_heads=2, **kwargs)
    glca.init_weights()
    return glca.eval()


def test_selects_top_r_patches():
    rollout = torch.tensor([[0.9, 0.1, 0.5, 0.05, 0.3, 0.2, 0.0, 0.6, 0.01]])  # CLS + 8 patches -> R = 2
    assert GLCA(16, 2, top_ratio=0.25).select(rollout).tolist() == [[7, 2]]  # CLS is not a query
    assert GLCA(16, 2, top_ratio=0.25, readout='cls').select(rollout).tolist() == [[0, 7, 2]]
    assert GLCA(16, 2, top_ratio=0.01).num_selected(784) == 7
    assert GLCA(16, 2, top_ratio=0.001).num_selected(100) == 1  # at least one query
    assert GLCA(16, 2, top_ratio=0.1).num_selected(784) == 78  # 448x448 FGVC


@pytest.mark.parametrize('kwargs,match', [(dict(top_ratio=0.), r'top_ratio must be in \(0, 1\]'),
                                          (dict(top_ratio=1.5), r'top_ratio must be in \(0, 1\]'),
                                          (dict(selection='attention'), 'selection must be one of'),
                                          (dict(readout='max'), 'readout must be one of')])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GLCA(16, 2, **kwargs)


def _reference(glca, tokens, index):
    # Cross-attention of the selected queries to all tokens equals timm's full
    # self-attention block restricted to those rows (keys/values are all tokens).
    full = glca.norm(glca.block(tokens))
    return torch.stack([full[b, index[b]] for b in range(len(tokens))])


def test_feature_is_the_mean_of_the_selected_local_queries():
    glca = _glca(top_ratio=0.25)
    tokens, rollout = torch.randn(2, 9, 16), torch.rand(2, 9)
    with torch.no_grad():
        (out, ) = glca((None, tokens, rollout))
        index = glca.select(rollout)
        torch.testing.assert_close(out, _reference(glca, tokens, index).mean(dim=1), rtol=1e-4, atol=1e-5)
        # other scores select other queries and so give another feature
        (other, ) = glca((None, tokens, -rollout))
    assert not set(glca.select(-rollout)[0].tolist()) & set(index[0].tolist())
    assert (other - out).abs().max() > 0.1


def test_scores_matter_only_through_the_selection():
    glca = _glca(top_ratio=0.5)
    tokens, rollout = torch.randn(2, 9, 16), torch.rand(2, 9)
    index = glca.select(rollout)
    lowered = rollout.clone()
    lowered[torch.ones_like(rollout, dtype=torch.bool).scatter_(1, index, False)] = -1.
    with torch.no_grad():
        torch.testing.assert_close(glca((None, tokens, lowered))[0], glca((None, tokens, rollout))[0])


def test_cls_readout_is_selection_invariant():
    # why 'cls' is only kept for the ablation: its feature ignores the selection
    glca = _glca(top_ratio=0.25, readout='cls')
    tokens, rollout = torch.randn(2, 9, 16), torch.rand(2, 9)
    with torch.no_grad():
        out = glca((None, tokens, rollout))[0]
        torch.testing.assert_close(out, _reference(glca, tokens, torch.zeros(2, 1, dtype=torch.long))[:, 0])
        torch.testing.assert_close(glca((None, tokens, -rollout))[0], out, rtol=1e-5, atol=1e-6)


def test_random_selection_ignores_scores_and_redraws():
    glca = _glca(top_ratio=0.25, selection='random')
    assert glca.score_mode == 'none'
    tokens = torch.randn(2, 17, 16)
    with torch.no_grad():
        torch.manual_seed(1)
        a = glca((None, tokens, None))[0]
        torch.manual_seed(1)
        b = glca((None, tokens, None))[0]
        c = glca((None, tokens, None))[0]
    torch.testing.assert_close(a, b)  # reproducible from the global seed
    assert (a - c).abs().max() > 1e-3  # a new draw selects other queries
    assert _glca(selection='last').score_mode == 'last' and _glca().score_mode == 'rollout'
    with pytest.raises(ValueError, match="needs token scores"):
        _glca()((None, tokens, None))


def test_timm_initialisation_without_pretrained_weights():
    torch.manual_seed(0)
    glca = GLCA(embed_dims=256, num_heads=4)
    default_std = glca.block.mlp.fc1.weight.std().item()  # PyTorch's kaiming-uniform: ~1/sqrt(3 * 256)
    glca.init_weights()
    w = glca.block.mlp.fc1.weight
    assert abs(w.std().item() - 0.02) < 0.002 and abs(default_std - 0.02) > 0.01
    assert torch.count_nonzero(glca.block.attn.qkv.bias) == 0


def test_init_from_block_copies_weights():
    torch.manual_seed(0)
    block, norm = DCALBlock(16, 2, qkv_bias=True), torch.nn.LayerNorm(16)
    glca = GLCA(16, 2)
    glca.init_from_block(block, norm)
    for k, v in block.state_dict().items():
        torch.testing.assert_close(glca.block.state_dict()[k], v)
        assert glca.block.state_dict()[k].data_ptr() != v.data_ptr()  # a copy, not shared weights


def test_wrong_backbone_outputs():
    with pytest.raises(ValueError, match='with_rollout=True'):
        GLCA(16, 2)((torch.zeros(1, 16), ))
