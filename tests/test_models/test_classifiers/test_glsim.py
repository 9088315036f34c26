# Copyright (c) OpenMMLab. All rights reserved.
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.evaluation import Accuracy
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import dcal_mm  # noqa: F401
from dcal_mm.models.layers import crop_and_resize, global_local_similarity, patch_indices_to_boxes

TINY = dict(embed_dims=32, num_layers=2, num_heads=2, patch_size=8)  # 32x32 input -> 4x4 grid, P = 8
CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs')


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    # tiny tensors: intra-op threads only add contention on a shared CPU
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cfg(**kwargs):
    cfg = dict(
        type='GLSim',
        backbone=dict(type='DCALViT', arch=TINY, img_size=32, drop_path_rate=0.),
        head=dict(
            type='LinearClsHead',
            num_classes=5,
            in_channels=32,
            loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
        num_selected=3,
        aggregator_cfg=dict(drop_path=0.))
    cfg.update(kwargs)
    return cfg


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return MODELS.build(_cfg(**kwargs))


def _tokens_selecting(patches, num_patches=16, dims=6, seed=0):
    """Tokens (1, 1 + N, C) whose class-patch cosine similarity ranks
    ``patches`` first, in that order, and every other patch below them."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.zeros(dims)
    cls[0] = 2.5  # the norm must not matter for a cosine
    tokens = [cls]
    for i in range(num_patches):
        if i in patches:
            angle = 0.1 + 0.1 * patches.index(i)  # cos decreasing with the rank
        else:
            angle = 1.2 + 0.05 * float(torch.rand(1, generator=g))
        t = torch.zeros(dims)
        t[0], t[1 + i % (dims - 1)] = math.cos(angle), math.sin(angle)
        tokens.append(t * (0.5 + float(torch.rand(1, generator=g))))
    return torch.stack(tokens)[None]


def _official_crops(images, indices, patch, size):
    """Independent re-statement of the official get_crops semantics: a Python
    loop over the batch, slice, then F.upsample_bilinear (align_corners)."""
    side = images.shape[-1] // patch  # the official code: sqrt(N) for a square grid
    out, boxes = [], []
    for b in range(images.shape[0]):
        rows = [int(i) // side for i in indices[b]]
        cols = [int(i) % side for i in indices[b]]
        y0, x0 = min(rows) * patch, min(cols) * patch
        y1 = min(max(max(rows) * patch, y0 + patch), images.shape[-1])
        x1 = min(max(max(cols) * patch, x0 + patch), images.shape[-1])
        boxes.append([x0, y0, x1, y1])
        out.append(F.interpolate(images[b:b + 1, :, y0:y1, x0:x1], size=size, mode='bilinear', align_corners=True))
    return torch.cat(out), torch.tensor(boxes)


# --------------------------------------------------------------------------- the crop box


@pytest.mark.parametrize(
    'patches, official, corrected',
    [
        # a 2x2 block in the middle: official box is only its top-left patch
        ([5, 6, 9, 10], [8, 8, 16, 16], [8, 8, 24, 24]),
        # one row, two far columns: official height is one patch, width stops at the last column's start
        ([0, 3], [0, 0, 24, 8], [0, 0, 32, 8]),
        # a single corner patch: both boxes are that patch
        ([15], [24, 24, 32, 32], [24, 24, 32, 32]),
        # scattered rows 0..3, columns 0..2
        ([1, 14, 8], [0, 0, 16, 24], [0, 0, 24, 32]),
        # one column: official width is one patch
        ([2, 6, 10], [16, 0, 24, 16], [16, 0, 24, 24]),
    ])
def test_box_for_known_similarity_patterns(patches, official, corrected):
    tokens = _tokens_selecting(patches)
    for mode, expected in (('official', official), ('corrected', corrected)):
        model = _model(num_selected=len(patches), box_mode=mode)
        sim, idx, boxes = model.select_boxes(tokens)
        assert sorted(idx[0].tolist()) == sorted(patches)
        assert idx[0].tolist() == patches  # ranked by similarity
        assert boxes.dtype == torch.long
        assert boxes[0].tolist() == expected, mode


def test_similarity_is_cosine_of_class_and_patch_tokens():
    tokens = torch.randn(3, 17, 8)
    sim = global_local_similarity(tokens)
    g = tokens[:, :1] / tokens[:, :1].norm(dim=-1, keepdim=True)
    p = tokens[:, 1:] / tokens[:, 1:].norm(dim=-1, keepdim=True)
    torch.testing.assert_close(sim, (g * p).sum(-1))


def test_boxes_non_square_grid():
    # grid 2 x 4 of 8x8 patches on a 16x32 image; patches 1 (r0,c1) and 7 (r1,c3)
    idx = torch.tensor([[1, 7], [4, 4]])
    assert patch_indices_to_boxes(idx, (2, 4), (16, 32), 'official').tolist() == [[8, 0, 24, 8], [0, 8, 8, 16]]
    assert patch_indices_to_boxes(idx, (2, 4), (16, 32), 'corrected').tolist() == [[8, 0, 32, 16], [0, 8, 8, 16]]


def test_crop_and_resize_equals_per_image_bilinear_align_corners():
    g = torch.Generator().manual_seed(1)
    images = torch.randn(4, 3, 32, 32, generator=g)
    boxes = torch.tensor([[8, 0, 24, 8], [0, 0, 32, 32], [5, 7, 6, 30], [31, 2, 32, 3]])  # incl. 1-px wide boxes
    crops = crop_and_resize(images, boxes, (32, 24))
    for b, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        ref = F.interpolate(images[b:b + 1, :, y0:y1, x0:x1], size=(32, 24), mode='bilinear', align_corners=True)
        torch.testing.assert_close(crops[b:b + 1], ref, rtol=1e-5, atol=1e-5)


def test_model_crops_equal_official_loop():
    model = _model(num_selected=4)
    images = torch.randn(6, 3, 32, 32)
    with torch.no_grad():
        out = model.forward_glsim(images)
    ref_crops, ref_boxes = _official_crops(images, out.indices, 8, (32, 32))
    assert out.boxes.tolist() == ref_boxes.tolist()
    torch.testing.assert_close(out.crops, ref_crops, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- forward, gradients, loss


def test_forward_equals_independent_reference():
    model = _model(num_selected=5)
    model.eval()
    images = torch.randn(3, 3, 32, 32)
    bb = model.backbone
    with torch.no_grad():
        logits = model(images, mode='tensor')
        tokens = bb.forward_features(images)  # timm-style forward, final norm applied
        sim = F.cosine_similarity(tokens[:, :1], tokens[:, 1:], dim=-1)
        idx = sim.argsort(dim=1, descending=True)[:, :5]
        crops, _ = _official_crops(images, idx, 8, (32, 32))
        crop_tokens = bb.forward_features(crops)
        z = torch.stack([tokens[:, 0], crop_tokens[:, 0]], dim=1)
        for blk in model.aggregator:
            z = z + blk.attn(blk.norm1(z))
            z = z + blk.mlp(blk.norm2(z))
        z = F.layer_norm(z, (32, ), model.aggregator_norm.weight, model.aggregator_norm.bias, 1e-6)
        ref = model.head.fc(z[:, 0])
    torch.testing.assert_close(logits, ref, rtol=1e-4, atol=1e-5)


def test_gradient_reaches_image_only_inside_box_through_crop_branch():
    model = _model(num_selected=2)
    images = torch.randn(2, 3, 32, 32, requires_grad=True)
    out = model.forward_glsim(images)
    for t in (out.similarity, out.indices, out.boxes):
        assert not t.requires_grad
    assert out.crops.requires_grad and out.crop_tokens.requires_grad
    # the crop tokens depend on the image only through the crop, not through the box selection
    # a random projection: the plain sum of a LayerNorm output is constant (zero gradient)
    proj = torch.randn(out.crop_tokens.shape[-1], generator=torch.Generator().manual_seed(0))
    grad, = torch.autograd.grad((out.crop_tokens[:, 0] @ proj).sum(), images)
    for b, (x0, y0, x1, y1) in enumerate(out.boxes.tolist()):
        inside = torch.zeros(32, 32, dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        assert grad[b][:, inside].abs().sum() > 0
        assert grad[b][:, ~inside].abs().sum() == 0


def test_backbone_gradient_includes_the_crop_pass():
    model = _model()
    images = torch.randn(4, 3, 32, 32)
    samples = [DataSample().set_gt_label(i % 5) for i in range(4)]
    model.head.fc.weight.data.normal_()  # a zero head would stop every gradient
    model.zero_grad()
    model.loss(images, samples)['loss'].backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    full = model.backbone.patch_embed.proj.weight.grad.clone()
    # the same loss with the crop pass detached
    model.zero_grad()
    out = model.forward_glsim(images)
    pair = torch.stack([out.tokens[:, 0], out.crop_tokens[:, 0].detach()], dim=1)
    feat = model.aggregator_norm(model.aggregator(pair))[:, 0]
    model.head.loss((feat, ), samples)['loss'].backward()
    first_pass_only = model.backbone.patch_embed.proj.weight.grad
    assert (full - first_pass_only).abs().max() > 1e-6


def test_box_ignores_a_perturbation_that_keeps_the_ranking():
    model = _model(num_selected=4)
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        before = model.forward_glsim(images)
        model.backbone.norm.weight.mul_(3.)  # scales every output token: cosines, hence the box, unchanged
        model.backbone.norm.bias.mul_(3.)
        after = model.forward_glsim(images)
    torch.testing.assert_close(after.similarity, before.similarity, rtol=1e-5, atol=1e-6)
    assert after.boxes.tolist() == before.boxes.tolist()
    assert not torch.allclose(after.feat, before.feat)


def test_loss_is_one_label_smoothed_cross_entropy():
    model = _model()
    model.head.fc.weight.data.normal_()
    images = torch.randn(4, 3, 32, 32)
    labels = [3, 0, 4, 1]
    losses = model.loss(images, [DataSample().set_gt_label(y) for y in labels])
    assert set(losses) == {'loss'}
    with torch.no_grad():
        logits = model.head.fc(model.forward_glsim(images).feat)
    ref = F.cross_entropy(logits, torch.tensor(labels), label_smoothing=0.1)
    torch.testing.assert_close(losses['loss'].detach(), ref)


def test_predict_scores_and_accuracy_metric():
    model = _model()
    model.head.fc.weight.data.normal_()
    model.eval()
    images = torch.randn(6, 3, 32, 32)
    labels = [0, 1, 2, 3, 4, 0]
    with torch.no_grad():
        out = model(images, [DataSample().set_gt_label(y) for y in labels], mode='predict')
        logits = model(images, mode='tensor')
    scores = torch.stack([o.pred_score for o in out])
    torch.testing.assert_close(scores, logits.softmax(1))
    assert [int(o.pred_label) for o in out] == logits.argmax(1).tolist()
    metric = Accuracy(topk=(1, ))
    metric.process(None, [o.to_dict() for o in out])
    acc = metric.compute_metrics(metric.results)['top1']
    assert acc == pytest.approx(100. * (logits.argmax(1) == torch.tensor(labels)).float().mean().item())


def test_separate_crop_class_token(tmp_path):
    src = MODELS.build(dict(type='DCALViT', arch=TINY, img_size=32))
    src.cls_token.data.normal_()
    path = str(tmp_path / 'vit.pth')
    torch.save(src.state_dict(), path)
    cfg = _cfg(separate_crop_cls_token=True)
    cfg['backbone']['init_cfg'] = dict(type='Pretrained', checkpoint=path)
    model = MODELS.build(cfg)
    model.init_weights()
    torch.testing.assert_close(model.crop_cls_token.data, src.cls_token.data)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = model.forward_glsim(images)
        # a random direction: a constant shift would be removed by the next LayerNorm
        model.crop_cls_token.add_(torch.randn(model.crop_cls_token.shape, generator=torch.Generator().manual_seed(0)))
        after = model.forward_glsim(images)
    torch.testing.assert_close(after.tokens, before.tokens)  # first pass untouched
    assert (after.crop_tokens - before.crop_tokens).abs().max() > 1e-2


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_selected=0), r'num_selected \(O\) must be in \[1, 16\].*got 0'),
    (dict(num_selected=17), r'num_selected \(O\) must be in \[1, 16\].*got 17'),
    (dict(num_selected=2.0), 'num_selected must be an int, got 2.0'),
    (dict(num_selected=True), 'num_selected must be an int, got True'),
    (dict(box_mode='center'), "box_mode must be one of \\('official', 'corrected'\\), got 'center'"),
    (dict(aggregator_depth=0), 'aggregator_depth must be an int >= 1, got 0'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(_cfg(**kwargs))


def test_bad_backbone_settings():
    cfg = _cfg()
    cfg['backbone']['out_type'] = 'cls_token'
    with pytest.raises(ValueError, match="out_type='raw'.*got 'cls_token'"):
        MODELS.build(cfg)
    cfg = _cfg()
    cfg['backbone']['with_rollout'] = True
    with pytest.raises(ValueError, match='with_rollout=False'):
        MODELS.build(cfg)
    with pytest.raises(ValueError, match=r'built for inputs of size \(32, 32\), got \(48, 48\)'):
        _model()(torch.randn(1, 3, 48, 48), mode='tensor')


def test_bad_helper_inputs():
    with pytest.raises(ValueError, match=r'indices must be in \[0, 16\), got values in \[0, 16\]'):
        patch_indices_to_boxes(torch.tensor([[0, 16]]), (4, 4), (32, 32))
    with pytest.raises(ValueError, match='integer indices, got dtype torch.float32'):
        patch_indices_to_boxes(torch.tensor([[0., 1.]]), (4, 4), (32, 32))
    with pytest.raises(ValueError, match="mode must be one of .*got 'end'"):
        patch_indices_to_boxes(torch.tensor([[0]]), (4, 4), (32, 32), 'end')
    with pytest.raises(ValueError, match=r'img_size \(30, 32\) is not divisible by the grid \(4, 4\)'):
        patch_indices_to_boxes(torch.tensor([[0]]), (4, 4), (30, 32))
    with pytest.raises(ValueError, match=r'boxes must satisfy 0 <= x0 < x1 <= 32.*\[\[4, 0, 4, 8\]\]'):
        crop_and_resize(torch.zeros(1, 3, 32, 32), torch.tensor([[4, 0, 4, 8]]), (32, 32))
    with pytest.raises(ValueError, match=r'boxes of shape \(1, 4\), got \(1, 3\)'):
        crop_and_resize(torch.zeros(1, 3, 32, 32), torch.tensor([[4, 0, 4]]), (32, 32))
    with pytest.raises(ValueError, match=r'tokens of shape \(B, 1 \+ N, C\), got \(2, 5\)'):
        global_local_similarity(torch.zeros(2, 5))


# --------------------------------------------------------------------------- configs


def test_configs_follow_the_official_recipe():
    for name, size, classes, resize in [('cub-224', 224, 200, 300), ('cub-448', 448, 200, 600),
                                        ('cars-224', 224, 196, 256), ('cars-448', 448, 196, 512),
                                        ('aircraft-224', 224, 100, 300), ('aircraft-448', 448, 100, 600)]:
        cfg = Config.fromfile(osp.join(CONFIG_DIR, 'glsim', f'glsim_vit-b_{name}.py'))
        m = cfg.model
        assert (m.type, m.num_selected, m.box_mode, m.backbone.arch, m.backbone.img_size) == \
            ('GLSim', 8, 'official', 'vit-base', size)
        assert m.head.num_classes == classes == cfg.data_preprocessor.num_classes
        assert m.head.loss.label_smooth_val == 0.1 and m.backbone.drop_path_rate == 0.1
        opt = cfg.optim_wrapper
        assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.momentum, opt.clip_grad.max_norm) == \
            ('SGD', 0.01, 0.9, 1.0)
        assert cfg.train_cfg.max_epochs == 50 and cfg.train_dataloader.batch_size == 8
        assert cfg.param_scheduler[0].end == 500 and not cfg.param_scheduler[0].by_epoch
        train = [t.type for t in cfg.train_dataloader.dataset.pipeline]
        assert train[train.index('NumpyToPIL') + 1] == 'torchvision/TrivialAugmentWide'
        assert 'RandomErasing' in train
        assert cfg.train_dataloader.dataset.pipeline[1].scale == (resize, resize)
        assert cfg.test_dataloader.dataset.pipeline[1].scale == (resize, resize)


def test_demo_config_builds_and_runs():
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'glsim', 'glsim_demo.py'))
    model = MODELS.build(cfg.model)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert model(images, mode='tensor').shape == (2, 10)
