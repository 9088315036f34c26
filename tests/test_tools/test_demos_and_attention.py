# Copyright (c) OpenMMLab. All rights reserved.
"""demo/image_demo.py, demo/reid_demo.py and the attention pictures of every
method, checked against computations done here."""
import glob
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dcal_mm  # noqa: F401
from dcal_mm.apis import build_inference_model
from dcal_mm.datasets import make_demo_cub, make_demo_market1501
from dcal_mm.visualization import attention_maps, cell_origin, load_view, save_attention_picture
from dcal_mm.visualization.attention import BAR_W, LABEL_H

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _checkpoint(config, path, classes=None):
    torch.manual_seed(0)
    model, _ = build_inference_model(config)
    meta = {'dataset_meta': {'classes': classes}} if classes else {}
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, path)
    return path


def test_image_demo_prints_the_top5_and_writes_the_attention_picture(run_tool, tmp_path, capsys):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=10, train_per_class=1, test_per_class=1)
    img = sorted(glob.glob(osp.join(root, 'images', '*', '*.jpg')))[0]
    config = osp.join(REPO, 'configs/dcal/demo_fgvc.py')
    names = [n.split('.', 1)[1] for n in sorted(os.listdir(osp.join(root, 'images')))]
    ckpt = _checkpoint(config, str(tmp_path / 'fgvc.pth'), classes=names)  # as a training checkpoint carries them
    run_tool(['demo/image_demo.py', img, config, ckpt, '--show-dir', str(tmp_path / 'vis')])
    out = capsys.readouterr().out
    printed = re.findall(r'^(\d)\. (.*) \(label (\d+)\): ([0-9.]+)$', out, re.M)
    model, pipeline = build_inference_model(config, ckpt)
    inputs, view = load_view(model, pipeline, img)
    with torch.no_grad():
        scores = model.predict(inputs)[0].pred_score
    top = scores.topk(5)
    assert [int(p[2]) for p in printed] == top.indices.tolist()
    np.testing.assert_allclose([float(p[3]) for p in printed], top.values.numpy(), atol=1e-4)
    # class names (the data's classes.txt), not label numbers only
    assert [p[1] for p in printed] == [names[i] for i in top.indices]
    picture = cv2.imread(str(tmp_path / 'vis' / (osp.splitext(osp.basename(img))[0] + '_attention.png')))
    # labelled panels at least 256 px on the short side (64 px view x 4): title, labels, input / rollout + colour bar /
    # selected patches
    title_h, label_h, side = LABEL_H + 4, LABEL_H, 256
    assert min(picture.shape[:2]) >= 256
    assert picture.shape == (title_h + label_h + side, side + 6 + side + BAR_W + 16 + 6 + side, 3)
    panel = picture[title_h + label_h:, :side]
    assert np.array_equal(panel, cv2.resize(view, (side, side), interpolation=cv2.INTER_NEAREST))
    assert (picture[:title_h] < 128).any()  # the title (top class and score) is written


def test_reid_demo_ranks_a_gallery_folder(run_tool, tmp_path, capsys):
    root = str(tmp_path / 'data')
    make_demo_market1501(root, num_train_ids=2, num_test_ids=4, num_distractors=2, num_junk=1)
    market = osp.join(root, 'Market-1501-v15.09.15')
    query = sorted(glob.glob(osp.join(market, 'query', '*.jpg')))[0]
    gallery = sorted(glob.glob(osp.join(market, 'bounding_box_test', '*.jpg')))
    config = osp.join(REPO, 'configs/dcal/demo_reid.py')
    ckpt = _checkpoint(config, str(tmp_path / 'reid.pth'))
    run_tool(['demo/reid_demo.py', query, osp.join(market, 'bounding_box_test'), config, ckpt,
              '--topk', '4', '--out-dir', str(tmp_path / 'out'), '--cell-size', '64', '32'])
    out = capsys.readouterr().out
    printed = re.findall(r'^  \d\. (\S+)  similarity ([0-9.]+)$', out, re.M)
    # an MMEngine progress bar over the gallery embedding
    assert f'gallery features: {len(gallery)} images' in out and f'{len(gallery)}/{len(gallery)}, ' in out
    model, pipeline = build_inference_model(config, ckpt)
    with torch.no_grad():
        feats = torch.cat([model.extract_feat(load_view(model, pipeline, p)[0], stage='pre_logits')
                           for p in [query] + gallery])
    sim = F.normalize(feats[1:], dim=1) @ F.normalize(feats[0], dim=0)
    top = sim.topk(4)
    assert [p[0] for p in printed] == [gallery[i] for i in top.indices]
    np.testing.assert_allclose([float(p[1]) for p in printed], top.values.numpy(), atol=1e-4)
    picture = cv2.imread(str(tmp_path / 'out' / f'rank_{osp.splitext(osp.basename(query))[0]}.png'))
    assert picture.shape[1] == cell_origin(4, (64, 32))[0] + 32 + 8 + 8


def test_attention_maps_of_every_method(tmp_path):
    torch.manual_seed(0)
    # DCAL: GLCA's patches are the top-R of the rollout map
    model, _ = build_inference_model(osp.join(REPO, 'configs/dcal/demo_fgvc.py'))
    maps = attention_maps(model, torch.randn(2, 3, 64, 64))
    assert list(maps) == ['rollout', 'glca'] and maps['rollout'].shape == (2, 8, 8)
    r = model.glca.num_selected(64)
    for heat, mask in zip(maps['rollout'], maps['glca']):
        assert int(mask.sum()) == r and bool((heat[mask].min() >= heat[~mask].max()))
    # GLCA choosing by the last block's attention: its patches follow those scores, the heat map stays the rollout
    last, _ = build_inference_model(osp.join(REPO, 'configs/dcal/demo_fgvc.py'),
                                    cfg_options={'model.glca.selection': 'last'})
    x = torch.randn(2, 3, 64, 64)
    maps = attention_maps(last, x)
    with torch.no_grad():
        bb = last.backbone
        scores = bb.forward_tokens(bb.embed(x), with_rollout=True, score_mode='last')[2][:, 1:]
        rollout = bb.forward_tokens(bb.embed(x), with_rollout=True)[2][:, 1:]
    top = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, scores.topk(r, dim=1).indices, True)
    assert torch.equal(maps['glca'].flatten(1), top)
    torch.testing.assert_close(maps['rollout'].flatten(1), rollout)
    assert not torch.equal(top, torch.zeros_like(top).scatter_(1, rollout.topk(r, dim=1).indices, True))
    # the SA baseline (no GLCA) still has a rollout
    sa, _ = build_inference_model(osp.join(REPO, 'configs/dcal/demo_fgvc.py'), cfg_options={
        'model.glca': None, 'model.pwca': None, 'model.head.with_glca': False, 'model.head.with_pwca': False,
        'model.head.predict_mode': 'sa'})
    assert list(attention_maps(sa, torch.randn(1, 3, 64, 64))) == ['rollout']
    # GLSim: the crop box of the forward pass
    glsim, _ = build_inference_model(osp.join(REPO, 'configs/glsim/glsim_demo.py'))
    x = torch.randn(2, 3, 64, 64)
    maps = attention_maps(glsim, x)
    assert list(maps) == ['rollout', 'glsim_box']
    with torch.no_grad():
        assert torch.equal(maps['glsim_box'], glsim.forward_glsim(x).boxes)
    # RGA: the spatial attention of each stage's input, recomputed stage by stage
    rga, _ = build_inference_model(osp.join(REPO, 'configs/rga/rga-sc_r50_demo_market.py'))
    x = torch.randn(1, 3, 64, 32)
    maps = attention_maps(rga, x)
    assert list(maps) == [f'rga_spatial_{s}' for s in range(1, 5)]
    r = rga.backbone.resnet
    with torch.no_grad():
        h = r.maxpool(r.act1(r.bn1(r.conv1(x))))
        for s, (layer, module) in enumerate(zip((r.layer1, r.layer2, r.layer3, r.layer4), rga.backbone.rga_modules)):
            h = layer(h)
            torch.testing.assert_close(maps[f'rga_spatial_{s + 1}'], module.spatial.attention(h)[:, 0])
            h = module(h)
    # CLAN: the CLSA map of each refined mid level on the top level's grid
    clan, _ = build_inference_model(osp.join(REPO, 'configs/clan/clan_r18_demo.py'))
    x = torch.randn(1, 3, 64, 64)
    maps = attention_maps(clan, x)
    assert list(maps) == ['clan_clsa_1', 'clan_clsa_2']
    with torch.no_grad():
        *mids, top = clan.backbone(x)
        for i, (mid, clca, clsa) in enumerate(zip(mids, clan.neck.clca, clan.neck.clsa), 1):
            torch.testing.assert_close(maps[f'clan_clsa_{i}'], clsa.spatial_map(clca(mid, top), top.shape[-2:])[:, 0])


def test_vis_attention_tool(run_tool, tmp_path, capsys):
    img = str(tmp_path / 'person.jpg')
    cv2.imwrite(img, np.random.default_rng(0).integers(0, 255, (70, 30, 3), dtype=np.uint8))
    run_tool(['tools/visualization/vis_attention.py', 'configs/dcal/demo_reid.py', 'none', img, '--out-dir',
              str(tmp_path / 'vis')])
    assert 'rollout, glca' in capsys.readouterr().out
    # the 64 x 32 view x 8 (short side 256); no title for Re-ID (no class scores)
    picture = cv2.imread(str(tmp_path / 'vis' / 'person_attention.png'))
    assert picture.shape == (LABEL_H + 512, 256 + 6 + 256 + BAR_W + 16 + 6 + 256, 3)
    assert min(picture.shape[:2]) >= 256


def test_save_attention_picture_draws_only_the_asked_maps(tmp_path):
    img = str(tmp_path / 'person.jpg')
    cv2.imwrite(img, np.random.default_rng(0).integers(0, 255, (70, 30, 3), dtype=np.uint8))
    model, pipeline = build_inference_model(osp.join(REPO, 'configs/dcal/demo_reid.py'))
    out = str(tmp_path / 'rollout.png')
    maps = save_attention_picture(model, pipeline, img, out, keys=('rollout', ), scale=3, labelled=False)
    assert list(maps) == ['rollout']
    assert cv2.imread(out).shape == (3 * 64, 3 * 2 * 32, 3)  # the view and one panel, 3x
    with pytest.raises(ValueError, match='DCAL has no attention map to show among glsim_box'):
        save_attention_picture(model, pipeline, img, out, keys=('glsim_box', ))
