# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch

from dcal_mm.models.layers import DCALBlock
from dcal_mm.models.necks import GLCA


def test_selects_cls_and_top_r_patches():
    glca = GLCA(embed_dims=16, num_heads=2, top_ratio=0.25)
    rollout = torch.tensor([[0.9, 0.1, 0.5, 0.05, 0.3, 0.2, 0.0, 0.6, 0.01]])  # CLS + 8 patches -> R = 2
    assert glca.select(rollout).tolist() == [[0, 7, 2]]
    glca.keep_cls = False
    assert glca.select(rollout).tolist() == [[7, 2]]
    assert GLCA(16, 2, top_ratio=0.01).num_selected(784) == 7
    assert GLCA(16, 2, top_ratio=0.001).num_selected(100) == 1  # at least one query
    assert GLCA(16, 2, top_ratio=0.1).num_selected(784) == 78  # 448x448 FGVC


@pytest.mark.parametrize('ratio', [0., -0.1, 1.5])
def test_ratio_outside_range_is_rejected(ratio):
    with pytest.raises(ValueError, match=r'top_ratio must be in \(0, 1\]'):
        GLCA(16, 2, top_ratio=ratio)


def test_output_is_the_cross_attended_cls_token():
    torch.manual_seed(0)
    glca = GLCA(embed_dims=16, num_heads=2, top_ratio=0.5)
    glca.eval()
    tokens = torch.randn(2, 9, 16)
    rollout = torch.rand(2, 9)
    (out, ) = glca((None, tokens, rollout))
    index = glca.select(rollout)
    # reference: the full block on all tokens, restricted to the selected rows, is NOT cross-attention;
    # cross-attention of the selected rows is the block's output on those rows when queries are all tokens
    full = glca.block(tokens)
    ref = glca.block.forward_cross(tokens, torch.arange(9).expand(2, 9))
    torch.testing.assert_close(ref, full, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out, glca.norm(full)[:, 0], rtol=1e-4, atol=1e-5)  # CLS query row
    assert index.shape == (2, 5)
    # changing a non-selected token still changes the output (it is a key/value), but changing the
    # scores of non-selected tokens below the cut does not
    lowered = rollout.clone()
    mask = torch.ones_like(rollout, dtype=torch.bool).scatter_(1, index, False)
    lowered[mask] = -1.
    torch.testing.assert_close(glca((None, tokens, lowered))[0], out)


def test_init_from_block_copies_weights():
    torch.manual_seed(0)
    block, norm = DCALBlock(16, 2, qkv_bias=True), torch.nn.LayerNorm(16)
    glca = GLCA(16, 2)
    glca.init_from_block(block, norm)
    for k, v in block.state_dict().items():
        torch.testing.assert_close(glca.block.state_dict()[k], v)


def test_wrong_backbone_outputs():
    with pytest.raises(ValueError, match='with_rollout=True'):
        GLCA(16, 2)((torch.zeros(1, 16), ))
