# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import dcal_mm  # noqa: F401
from dcal_mm.models.utils import draw_partners

TINY = dict(embed_dims=32, num_layers=3, num_heads=2, patch_size=8)


def _cfg(glca=True, pwca=True, **head):
    return dict(
        type='DCAL',
        backbone=dict(type='DCALViT', arch=TINY, img_size=32, drop_path_rate=0.),
        glca=dict(type='GLCA', top_ratio=0.25) if glca else None,
        pwca=dict(type='PWCA') if pwca else None,
        head=dict(type='DCALClsHead', num_classes=4, in_channels=32, with_glca=glca, with_pwca=pwca,
                  predict_mode='sum' if glca else 'sa', **head),
        data_preprocessor=dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True))


def _batch(model, B=4, training=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = [torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8) for _ in range(B)]
    samples = [DataSample().set_gt_label(i % 4) for i in range(B)]
    return model.data_preprocessor(dict(inputs=images, data_samples=samples), training)


def test_train_step_on_a_plain_batch_trains_every_part():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    model.init_weights()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(4)]
    data = dict(inputs=images, data_samples=[DataSample().set_gt_label(i % 4) for i in range(4)])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    log = model.train_step(data, optim)
    assert set(log) >= {'loss', 'sa_ce', 'glca_ce', 'pwca_ce'}
    unchanged = [n for n, p in model.named_parameters() if torch.equal(p, before[n])]
    assert unchanged == []


def _heads(t, num_heads):
    return t.unflatten(-1, (num_heads, t.shape[-1] // num_heads)).transpose(1, 2)


def _reference_pwca(model, images, partners, num_blocks=None):
    """PWCA written out: in each of the first ``num_blocks`` blocks (default: all) an explicit softmax over
    [K_target; K_partner], the partner's keys and values from its own SA stream at the same depth; the blocks after
    them plain SA blocks on the target stream (softmax over K_target only); then the final norm."""
    bb = model.backbone
    C, H = bb.embed_dims, bb.num_heads
    num_blocks = len(bb.blocks) if num_blocks is None else num_blocks

    sa = x = bb.embed(images)
    for i, blk in enumerate(bb.blocks):
        q, k, v = (_heads(t, H) for t in blk.attn.qkv(blk.norm1(x)).chunk(3, dim=-1))
        if i < num_blocks:  # pair block
            _, k_sa, v_sa = (_heads(t, H) for t in blk.attn.qkv(blk.norm1(sa)).chunk(3, dim=-1))
            k, v = torch.cat([k, k_sa[partners]], dim=2), torch.cat([v, v_sa[partners]], dim=2)
        probs = (q @ k.transpose(-2, -1) * (C // H)**-0.5).softmax(-1)
        x = x + blk.attn.proj((probs @ v).transpose(1, 2).flatten(2))
        x = x + blk.mlp(blk.norm2(x))
        sa = blk(sa)
    return bb.norm(x)[:, 0]


def _pwca_feature(model, images, partners):
    bb = model.backbone
    tokens = bb.embed(images)
    _, qkv = bb.forward_tokens(tokens, with_rollout=False, return_qkv=True)
    return bb.norm(model.pwca(bb.blocks, tokens, qkv, partners))[:, 0]


def test_pwca_equals_the_written_out_reference():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    model.eval()  # no dropout / drop path
    images = _batch(model, B=3, training=False)['inputs']
    partners = torch.tensor([2, 0, 1])
    with torch.no_grad():
        ours = _pwca_feature(model, images, partners)
        torch.testing.assert_close(ours, _reference_pwca(model, images, partners), rtol=1e-4, atol=1e-5)
        # the partner matters: another partner, another feature; and PWCA is not SA
        other = _pwca_feature(model, images, torch.tensor([1, 2, 0]))
        assert (other - ours).abs().max() > 1e-2
        assert (ours - model.backbone(images)[0]).abs().max() > 1e-2


@pytest.mark.parametrize('num_blocks', [1, 2])
def test_pwca_in_the_first_blocks_only(num_blocks):
    """PWCA with T < depth: pair blocks 0..T-1, then plain SA blocks on the target stream (the written-out
    reference); the partner's keys/values reach the target through the first T blocks and no later one."""
    torch.manual_seed(0)
    cfg = _cfg()
    cfg['pwca'] = dict(type='PWCA', num_blocks=num_blocks)
    model = MODELS.build(cfg)
    model.eval()
    bb = model.backbone
    depth = len(bb.blocks)
    assert num_blocks < depth
    images = _batch(model, B=3, training=False)['inputs']
    partners = torch.tensor([2, 0, 1])
    with torch.no_grad():
        ours = _pwca_feature(model, images, partners)
        ref = _reference_pwca(model, images, partners, num_blocks)
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)
        # the references for other T differ, so matching this one pins T
        for other in set(range(1, depth + 1)) - {num_blocks}:
            assert (_reference_pwca(model, images, partners, other) - ref).abs().max() > 1e-3
        # the partner's influence, block by block: replace the partner's SA keys/values of one block by noise
        # (only its row, so the target's own projections are untouched) and watch the target's feature
        tokens = bb.embed(images)
        _, qkv = bb.forward_tokens(tokens, with_rollout=False, return_qkv=True)
        target, partner = 0, int(partners[0])

        def target_feature(noisy_block=None):
            kv = [list(t) for t in qkv]
            if noisy_block is not None:
                for j in (1, 2):  # k, v
                    kv[noisy_block][j] = kv[noisy_block][j].clone()
                    kv[noisy_block][j][partner] = torch.randn_like(kv[noisy_block][j][partner])
            return bb.norm(model.pwca(bb.blocks, tokens, [tuple(t) for t in kv], partners))[target, 0]

        clean = target_feature()
        torch.testing.assert_close(clean, ours[target])
        for i in range(depth):
            moved = (target_feature(i) - clean).abs().max()
            if i < num_blocks:
                assert moved > 1e-3, f'block {i} < T={num_blocks} ignores the partner'
            else:
                assert moved == 0, f'the partner reaches the target through block {i} >= T={num_blocks}'


def test_loss_draws_in_batch_partners_with_the_policy(monkeypatch):
    import dcal_mm.models.classifiers.dcal as dcal_module
    torch.manual_seed(0)
    cfg = _cfg()
    cfg['pwca'] = dict(type='PWCA', partner_policy='intra')
    model = MODELS.build(cfg)
    calls = []

    def spy(batch_size, labels, policy):
        calls.append((batch_size, labels.tolist(), policy))
        return draw_partners(batch_size, labels, policy)

    monkeypatch.setattr(dcal_module, 'draw_partners', spy)
    model(**_batch(model, B=8), mode='loss')
    assert calls == [(8, [0, 1, 2, 3, 0, 1, 2, 3], 'intra')]


def test_loss_feeds_the_head_the_reference_pwca_feature(monkeypatch):
    import dcal_mm.models.classifiers.dcal as dcal_module
    torch.manual_seed(0)
    model = MODELS.build(_cfg())  # drop path 0 and no dropout: the training forward is deterministic
    drawn, seen = [], []
    monkeypatch.setattr(dcal_module, 'draw_partners', lambda *a: drawn.append(draw_partners(*a)) or drawn[-1])
    monkeypatch.setattr(model.head, 'loss', lambda feats, samples: seen.append(feats) or {})
    data = _batch(model, B=4)
    model(**data, mode='loss')
    with torch.no_grad():
        ref = _reference_pwca(model, data['inputs'], drawn[0])
        torch.testing.assert_close(seen[0].pwca, ref, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(seen[0].sa, model.backbone(data['inputs'])[0], rtol=1e-4, atol=1e-5)


def test_pair_inputs_are_a_clear_error():
    model = MODELS.build(_cfg())
    with pytest.raises(ValueError, match=r'trains on image batches of shape \(B, 3, H, W\)'):
        model(torch.randn(2, 2, 3, 32, 32), [DataSample().set_gt_label(0)] * 2, mode='loss')


def test_predict_sum_and_sa_only_cost():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    model.eval()
    images = _batch(model, training=False)['inputs']
    with torch.no_grad():
        out = model(images, mode='predict')
        feats = model.extract_feat(images)
        expected = 0.5 * (model.head.sa_fc(feats[0]).softmax(1) + model.head.glca_fc(feats[1]).softmax(1))
        torch.testing.assert_close(torch.stack([o.pred_score for o in out]), expected)
        model.head.predict_mode = 'sa'
        calls = []
        model.glca.register_forward_hook(lambda *a: calls.append(1))
        feats = model.extract_feat(images)
        assert len(feats) == 1 and calls == []  # SA-only inference skips GLCA and the rollout


def test_glca_starts_from_the_pretrained_last_block(tmp_path):
    src = MODELS.build(dict(type='DCALViT', arch=TINY, img_size=32))
    path = str(tmp_path / 'vit.pth')
    torch.save(src.state_dict(), path)
    cfg = _cfg()
    cfg['backbone']['init_cfg'] = dict(type='Pretrained', checkpoint=path)
    model = MODELS.build(cfg)
    model.init_weights()
    for k, v in src.blocks[-1].state_dict().items():
        torch.testing.assert_close(model.glca.block.state_dict()[k], v)
    torch.testing.assert_close(model.glca.norm.weight, src.norm.weight)


def test_glca_is_its_own_block_with_the_backbone_drop_path():
    cfg = _cfg()
    cfg['backbone']['drop_path_rate'] = 0.2
    model = MODELS.build(cfg)
    backbone_ptrs = {p.data_ptr() for p in model.backbone.parameters()}
    assert all(p.data_ptr() not in backbone_ptrs for p in model.glca.parameters())
    assert model.glca.block.drop_path1.drop_prob == pytest.approx(0.2)


def _attention_maps(model, images):
    """Head-averaged softmax attention of the blocks before GLCA, written out (oldest first)."""
    bb = model.backbone
    x, maps = bb.embed(images), []
    for blk in bb.blocks[:bb.rollout_depth]:
        q, k, _ = (_heads(t, bb.num_heads) for t in blk.attn.qkv(blk.norm1(x)).chunk(3, dim=-1))
        maps.append((q @ k.transpose(-2, -1) * (bb.embed_dims // bb.num_heads)**-0.5).softmax(-1).mean(1))
        x = blk(x)
    return maps


def _top_patches(scores, r):
    """The r patch tokens (indices >= 1) of highest score, as sorted token indices."""
    ranked = scores[:, 1:].sort(1, descending=True).values
    # no near-tie at the R-th place, or float rounding (the code multiplies the maps in another order) could pick
    # another token (on the test model the gap is >= 2.5e-4 of the top score, float32 rounding ~1e-7)
    assert ((ranked[:, r - 1] - ranked[:, r]) > 1e-5 * ranked[:, 0]).all()
    return (scores[:, 1:].topk(r, dim=1).indices + 1).sort(1).values


def _expected_selections(model, images):
    """Top-R tokens of the rollout's CLS row (Eq. 2: S_bar = 0.5 S + 0.5 I, newest on the left) and of the CLS row
    of the last map before GLCA."""
    maps = _attention_maps(model, images)
    eye = torch.eye(maps[0].shape[-1]).expand_as(maps[0])
    rollout = eye
    for attn in maps:
        rollout = (0.5 * attn + 0.5 * eye) @ rollout
    r = model.glca.num_selected(maps[0].shape[-1] - 1)
    return dict(rollout=_top_patches(rollout[:, 0], r), last=_top_patches(maps[-1][:, 0], r))


def _glca_run(model, images, index=None):
    """DCAL's GLCA feature (``extract_feat``) and the token indices GLCA selected; with ``index``, GLCA is made to
    select those instead."""
    chosen, select = [], model.glca.select

    def spy(scores):
        chosen.append(select(scores) if index is None else index)
        return chosen[-1]

    model.glca.select = spy
    try:
        feat = model.extract_feat(images)[1]
    finally:
        del model.glca.select  # the class's method again
    assert len(chosen) == 1
    return feat, chosen[0].sort(1).values


@pytest.mark.parametrize('selection', ['rollout', 'last', 'random'])
def test_glca_selection_modes_select_as_named_and_reach_the_feature(selection):
    """``rollout`` selects the top-R tokens of the rollout, ``last`` the top-R of the last attention map, ``random``
    indices that change with the RNG and are not the rollout's; and the GLCA feature is that of the selection:
    another selection gives another feature."""
    torch.manual_seed(0)
    cfg = _cfg()
    cfg['glca']['selection'] = selection
    model = MODELS.build(cfg)
    model.eval()
    images = _batch(model, training=False)['inputs']
    B, num_patches = images.shape[0], model.backbone.patch_embed.num_patches
    R = model.glca.num_selected(num_patches)
    assert 1 < R < num_patches // 2
    with torch.no_grad():
        expected = _expected_selections(model, images)
        # the two scores rank differently on this model, so each mode is told apart from the other
        assert not torch.equal(expected['rollout'], expected['last'])
        torch.manual_seed(1)
        feat, chosen = _glca_run(model, images)
        assert chosen.shape == (B, R) and chosen.min() >= 1 and chosen.max() <= num_patches
        assert all(len(set(row.tolist())) == R for row in chosen)  # R distinct patches, CLS not among them
        if selection == 'random':
            assert not (chosen == expected['rollout']).all(1).any()  # no image got the rollout's tokens
            torch.manual_seed(1)
            feat_again, chosen_again = _glca_run(model, images)
            assert torch.equal(chosen_again, chosen)  # the RNG decides ...
            torch.testing.assert_close(feat_again, feat, rtol=0, atol=0)
            torch.manual_seed(2)
            _, chosen_other = _glca_run(model, images)
            assert not (chosen_other == chosen).all(1).any()  # ... and a new draw is a new selection
        else:
            assert torch.equal(chosen, expected[selection])
        # the feature is the selection's: forcing the same tokens gives it back, other tokens another feature
        forced, _ = _glca_run(model, images, index=chosen)  # sorted: the mean adds them in another order
        torch.testing.assert_close(forced, feat)
        others = torch.stack([torch.tensor([i for i in range(1, num_patches + 1) if i not in row][:R])
                              for row in chosen.tolist()])
        moved = (_glca_run(model, images, index=others)[0] - feat).abs().max(1).values
        assert (moved > 1e-3).all()


def test_head_and_branches_must_agree():
    cfg = _cfg()
    cfg['head']['with_pwca'] = False
    with pytest.raises(ValueError, match='head.with_pwca=False does not match pwca=given'):
        MODELS.build(cfg)


def test_baseline_is_plain_vit():
    torch.manual_seed(0)
    model = MODELS.build(_cfg(glca=False, pwca=False))
    assert not model.backbone.with_rollout
    assert type(model.data_preprocessor).__name__ == 'ClsDataPreprocessor'
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=[DataSample().set_gt_label(1)] * 2), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'sa_ce'}


def _loss_and_grads(model, data, seed):
    model.zero_grad()
    torch.manual_seed(seed)  # partners, drop path
    loss = model(**data, mode='loss')['loss']
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize('one_pass', [True, False])
def test_gradient_checkpointing_keeps_loss_and_gradients(one_pass, monkeypatch):
    """``one_pass``: the CPU path, where a rollout block's map comes from the pass that makes its output (and the
    recomputation makes it again); False: as on a GPU, fused attention and a separate map, made once per block
    outside the checkpoint (counted)."""
    from dcal_mm.models.backbones import dcal_vit
    from dcal_mm.models.layers import attention as attention_module
    if not one_pass:
        monkeypatch.setattr(attention_module, '_cpu_fusable', lambda *a: False)
    maps = []
    for module, name in ((dcal_vit, 'attention_map'), (attention_module, 'attention_map'),
                         (attention_module._SelfAttentionWithMap, 'forward')):
        fn = getattr(module, name)
        wrapped = (lambda fn: lambda *a, **k: maps.append(name) or fn(*a, **k))(fn)
        monkeypatch.setattr(module, name, staticmethod(wrapped) if name == 'forward' else wrapped)
    torch.manual_seed(0)
    cfg = _cfg()
    cfg['backbone']['drop_path_rate'] = 0.3  # random per block: the recomputation must replay it
    model = MODELS.build(cfg)
    model.train()
    assert not (model.backbone.with_cp or model.glca.with_cp or model.pwca.with_cp)
    data = _batch(model, B=4)
    loss, grads = _loss_and_grads(model, data, seed=1)
    rollout_blocks = model.backbone.rollout_depth
    assert len(maps) == rollout_blocks  # one map per rollout block, whichever path
    maps.clear()
    model.backbone.with_cp = model.glca.with_cp = model.pwca.with_cp = True
    # the blocks really are recomputed: with checkpointing every block's MLP runs in the forward and again in
    # the backward pass (fc1's input is the first tensor the MLP saves, so its hook fires before
    # non-reentrant checkpointing stops a recomputation early)
    calls = []
    hooks = [blk.mlp.fc1.register_forward_hook(lambda *a: calls.append(1)) for blk in model.backbone.blocks]
    hooks.append(model.glca.block.mlp.fc1.register_forward_hook(lambda *a: calls.append(1)))
    loss_cp, grads_cp = _loss_and_grads(model, data, seed=1)
    for h in hooks:
        h.remove()
    assert len(calls) == 2 * (2 * len(model.backbone.blocks) + 1)
    # the one-pass map is remade by the recomputation (at no extra product); a separate map is made once
    assert len(maps) == (2 if one_pass else 1) * rollout_blocks
    torch.testing.assert_close(loss_cp, loss, rtol=0, atol=0)
    assert grads_cp.keys() == grads.keys() and len(grads) == len(list(model.parameters()))
    for name, grad in grads.items():
        torch.testing.assert_close(grads_cp[name], grad, rtol=1e-5, atol=1e-7, msg=name)
    # the seed matters (drop path is live), so the equality above is not vacuous
    assert not torch.equal(_loss_and_grads(model, data, seed=2)[0], loss)


def test_backbone_with_cp_switches_glca_and_pwca():
    cfg = _cfg()
    cfg['backbone']['with_cp'] = True
    model = MODELS.build(cfg)
    assert model.backbone.with_cp and model.glca.with_cp and model.pwca.with_cp
    cfg['pwca'] = dict(type='PWCA', with_cp=False)
    assert not MODELS.build(cfg).pwca.with_cp
