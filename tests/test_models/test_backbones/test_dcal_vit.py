# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import checkpoint_filter_fn as timm_filter

from dcal_mm.models.backbones import DCALViT
from dcal_mm.models.layers import attention_rollout_cls

TINY = dict(embed_dims=32, num_layers=3, num_heads=2, patch_size=8)


def _eval(model):
    model.eval()
    return model


@pytest.mark.parametrize('arch,timm_name,size', [('deit-tiny', 'deit_tiny_patch16_224', (64, 48)),
                                                 ('r50-vit-base', 'vit_base_r50_s16_224', (32, 32))])
def test_sa_branch_equals_timm_forward_features(arch, timm_name, size):
    torch.manual_seed(0)
    ours = _eval(DCALViT(arch, img_size=size, with_rollout=True))
    ref = _eval(timm.create_model(timm_name, pretrained=False, num_classes=0, img_size=size))
    ref.load_state_dict(ours.state_dict(), strict=True)  # identical parameter names
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected = ref.forward_features(x)
        torch.testing.assert_close(ours(x)[0], expected[:, 0], rtol=0, atol=1e-5)
        torch.testing.assert_close(ours.forward_features(x), expected, rtol=0, atol=1e-5)


def test_rollout_outputs_use_blocks_before_glca():
    torch.manual_seed(0)
    model = _eval(DCALViT(TINY, img_size=32, with_rollout=True))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        sa, glca_in, rollout = model(x)
        tokens, maps = model.embed(x), []
        for blk in model.blocks[:2]:
            tokens, attn, _ = blk.forward_sa(tokens, return_attn=True)
            maps.append(attn)
    torch.testing.assert_close(glca_in, tokens)  # input of the last block
    torch.testing.assert_close(rollout, attention_rollout_cls(maps))
    assert not rollout.requires_grad
    after_last = _eval(DCALViT(TINY, img_size=32, with_rollout=True, rollout_depth=3))
    after_last.load_state_dict(model.state_dict())
    with torch.no_grad():
        _, tokens_last, _ = after_last(x)
        torch.testing.assert_close(model.norm(tokens_last)[:, 0], sa)


def test_last_layer_scores_and_projections():
    torch.manual_seed(0)
    model = _eval(DCALViT(TINY, img_size=32, with_rollout=True))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        (sa, glca_in, scores), qkv = model.forward_tokens(model.embed(x), score_mode='last', return_qkv=True)
        tokens, maps, ref_qkv = model.embed(x), [], []
        for blk in model.blocks:
            tokens, attn, blk_qkv = blk.forward_sa(tokens, return_attn=True)
            maps.append(attn)
            ref_qkv.append(blk_qkv)
        _, _, rollout = model(x)
    # 'last': the CLS row of block rollout_depth (= 2) alone, not the rollout
    torch.testing.assert_close(scores, maps[1][:, 0])
    assert (scores - rollout).abs().max() > 1e-3
    assert len(qkv) == 3
    for got, want in zip(qkv, ref_qkv):
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)
    (_, _, none), = [model.forward_tokens(model.embed(x), score_mode='none')]
    assert none is None
    with pytest.raises(ValueError, match="score_mode must be 'rollout', 'last' or 'none'"):
        model.forward_tokens(model.embed(x), score_mode='penultimate')


def test_training_rollout_keeps_no_attention_in_graph():
    model = DCALViT(TINY, img_size=32, with_rollout=True)
    sa, glca_in, rollout = model(torch.randn(2, 3, 32, 32))
    assert sa.requires_grad and glca_in.requires_grad and not rollout.requires_grad
    (sa.sum() + glca_in.sum()).backward()
    assert model.blocks[0].attn.qkv.weight.grad is not None


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_loads_timm_checkpoint_with_pos_embed_resampling(tmp_path, suffix):
    torch.manual_seed(0)
    src = timm.create_model('deit_tiny_patch16_224', pretrained=False, num_classes=10)  # 14x14 grid, with head
    state = src.state_dict()
    path = str(tmp_path / f'deit_tiny{suffix}')
    if suffix == '.pth':
        torch.save({'model': state}, path)  # the official DeiT file wraps the state dict in 'model'
    else:
        save_file(state, path)
    model = DCALViT('deit-tiny', img_size=(64, 32), init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    assert model.pretrained_loaded
    ref = timm.create_model('deit_tiny_patch16_224', pretrained=False, num_classes=0, img_size=(64, 32))
    ref.load_state_dict(timm_filter({k: v for k, v in state.items() if not k.startswith('head')}, ref))
    x = torch.randn(1, 3, 64, 32)
    with torch.no_grad():
        torch.testing.assert_close(_eval(model)(x)[0], _eval(ref).forward_features(x)[:, 0], rtol=0, atol=1e-5)


def test_mismatched_checkpoint_lists_keys(tmp_path):
    state = DCALViT(TINY, img_size=32).state_dict()
    state.pop('blocks.0.attn.qkv.weight')
    state['extra.weight'] = torch.zeros(1)
    path = str(tmp_path / 'bad.pth')
    torch.save(state, path)
    model = DCALViT(TINY, img_size=32, init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r"missing keys \['blocks.0.attn.qkv.weight'\].*unexpected keys "
                       r"\['extra.weight'\]"):
        model.init_weights()
    model = DCALViT(TINY, img_size=32, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'none.pth')))
    with pytest.raises(FileNotFoundError, match='none.pth'):
        model.init_weights()


def test_prefix_selects_backbone_of_a_whole_model_checkpoint(tmp_path):
    src = DCALViT(TINY, img_size=32)
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    state['head.sa_fc.weight'] = torch.zeros(3, 32)
    path = str(tmp_path / 'whole.pth')
    torch.save({'state_dict': state, 'meta': {}}, path)
    model = DCALViT(TINY, img_size=32, init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    model.init_weights()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v)


def test_bad_sizes_and_arch():
    with pytest.raises(ValueError, match=r'img_size \(450, 450\) is not divisible by the patch size 16'):
        DCALViT('deit-tiny', img_size=450)
    with pytest.raises(ValueError, match='arch .vit-huge. is not one of'):
        DCALViT('vit-huge')
    with pytest.raises(ValueError, match='rollout_depth must be in'):
        DCALViT(TINY, img_size=32, rollout_depth=0)
    model = DCALViT(TINY, img_size=32)
    with pytest.raises(ValueError, match=r'built for inputs of size \(32, 32\), got \(64, 64\)'):
        model(torch.randn(1, 3, 64, 64))
