# Copyright (c) OpenMMLab. All rights reserved.
"""MMPretrain's inference APIs on our models return what tools/test.py
returns for the same images, and the model index makes them known by name."""
import glob
import os.path as osp
import pickle

import pytest
import torch
import torch.nn.functional as F
import yaml
from mmengine.config import Config
from mmpretrain import (FeatureExtractor, ImageClassificationInferencer, ImageRetrievalInferencer, get_model,
                        inference_model, list_models)

import dcal_mm  # noqa: F401
from dcal_mm.datasets import make_demo_cub, make_demo_market1501

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METHODS = ('dcal', 'glsim', 'rga', 'clan')


def _tiny_reid_config(tmp_path, model_base, name):
    """A 2-block ViT Re-ID config on the demo Market set (DCAL or its SA baseline)."""
    path = tmp_path / f'{name}.py'
    path.write_text(
        f"_base_ = ['{REPO}/configs/_base_/models/{model_base}', '{REPO}/configs/_base_/datasets/demo_market.py',\n"
        f"          '{REPO}/configs/_base_/schedules/reid_sgd_120e.py', '{REPO}/configs/_base_/default_runtime.py']\n"
        'model = dict(backbone=dict(arch=dict(_delete_=True, embed_dims=48, num_layers=2, num_heads=2, patch_size=8),\n'
        '                           img_size=(64, 32), drop_path_rate=0.), head=dict(num_classes=4, in_channels=48))\n')
    return str(path)


def _random_checkpoint(config, path):
    torch.manual_seed(0)
    model = get_model(config)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def _test_dump(run_tool, config, ckpt, data_opts, out):
    run_tool(['tools/test.py', config, ckpt, '--work-dir', osp.dirname(out), '--out', out, '--cfg-options',
              'test_dataloader.num_workers=0', *data_opts])
    with open(out, 'rb') as f:
        return pickle.load(f)


@pytest.fixture(scope='module')
def market(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('market'))
    make_demo_market1501(root, num_train_ids=4, num_test_ids=6, num_distractors=3, num_junk=2)
    return root


def test_model_index_lists_every_config_with_paper_numbers_only():
    names, paper_numbers = [], 0
    for method in METHODS:
        with open(osp.join(REPO, 'configs', method, 'metafile.yml')) as f:
            meta = yaml.safe_load(f)
        listed = set()
        for model in meta['Models']:
            names.append(model['Name'])
            assert model['Weights'] is None, model['Name']  # no weights until trained ones exist
            assert osp.isfile(osp.join(REPO, model['Config'])), model['Config']
            listed.add(model['Config'])
            for result in model['Results']:
                assert result['Task'] in ('Image Classification', 'Image Retrieval')
                # MMPretrain's metric keys; the papers' numbers in their own field; results of this code only for
                # the demo models (measured on the generated sets, README), none for the full-size configs yet
                if '_demo' in model['Name']:
                    assert set(result['Metrics']) in (set(), {'Top 1 Accuracy'}, {'mAP', 'Rank-1'}), model['Name']
                else:
                    assert result['Metrics'] == {}, model['Name']
                paper = result.get('Paper Metrics', {})  # none where the paper reports no number (demos too)
                assert set(paper) <= {'Top 1 Accuracy', 'mAP', 'Rank-1'}, model['Name']
                paper_numbers += len(paper)
        configs = {osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs', method, '*.py'))
                   if not osp.basename(p).startswith('_')}
        assert listed == configs, method
    assert len(names) == len(set(names))
    assert paper_numbers == 109  # 38 Top 1 Accuracy, 37 mAP, 34 Rank-1
    assert set(names) <= set(list_models())
    assert 'dcal_deit-t_cub' in list_models('dcal', task='Image Classification')
    assert 'rga-sc_r50_market1501' in list_models(task='Image Retrieval')


def test_reid_apis_match_tools_test(run_tool, market, tmp_path):
    data_opts = [f'test_dataloader.dataset.data_root={market}']
    checked = 0
    for name, config in (('dcal', _tiny_reid_config(tmp_path, 'dcal_reid.py', 'dcal')),
                         ('sa', _tiny_reid_config(tmp_path, 'sa_vit_reid.py', 'sa')),
                         ('rga', osp.join(REPO, 'configs/rga/rga-sc_r50_demo_market.py'))):
        ckpt = _random_checkpoint(config, str(tmp_path / f'{name}.pth'))
        dump = _test_dump(run_tool, config, ckpt, data_opts, str(tmp_path / name / 'out.pkl'))
        paths = [d['img_path'] for d in dump]
        expected = torch.stack([d['pred_feature'] for d in dump])

        feats = FeatureExtractor(config, pretrained=ckpt, device='cpu')(paths, batch_size=16, stage='pre_logits')
        torch.testing.assert_close(torch.stack(feats), expected, rtol=0, atol=1e-5)
        # the default stage (neck) works too: per image, the branch features the head reads
        neck = FeatureExtractor(config, pretrained=ckpt, device='cpu')(paths[:4], batch_size=4)
        if name == 'dcal':
            torch.testing.assert_close(torch.cat(neck[0]), expected[0], rtol=0, atol=1e-5)  # concat(SA, GLCA)

        queries = [d['img_path'] for d in dump if d['is_query']]
        gallery = [d['img_path'] for d in dump if not d['is_query']]
        q_feat = expected[[d['is_query'] for d in dump]]
        g_feat = expected[[not d['is_query'] for d in dump]]
        sim = F.normalize(q_feat, dim=1) @ F.normalize(g_feat, dim=1).t()
        inferencer = ImageRetrievalInferencer(config, prototype=gallery, pretrained=ckpt, device='cpu')
        results = inferencer(queries, topk=len(gallery), batch_size=16)
        for row, matches in zip(sim, results):
            assert [m['sample']['img_path'] for m in matches] == [gallery[i] for i in row.argsort(descending=True)]
            torch.testing.assert_close(torch.stack([m['match_score'] for m in matches]),
                                       row.sort(descending=True).values, rtol=0, atol=1e-5)
        checked += 1
    assert checked == 3


def test_reid_model_by_name_through_inference_model(market, tmp_path):
    ckpt = _random_checkpoint('dcal_demo_reid', str(tmp_path / 'reid.pth'))
    gallery = sorted(glob.glob(osp.join(market, 'Market-1501-v15.09.15', 'bounding_box_test', '*.jpg')))[:5]
    query = sorted(glob.glob(osp.join(market, 'Market-1501-v15.09.15', 'query', '*.jpg')))[0]
    matches = inference_model('dcal_demo_reid', query, pretrained=ckpt, prototype=gallery, topk=2, device='cpu')
    assert len(matches) == 2 and {m['sample']['img_path'] for m in matches} <= set(gallery)
    assert matches[0]['match_score'] >= matches[1]['match_score']


def test_fgvc_inferencer_matches_tools_test(run_tool, tmp_path):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=10, train_per_class=1, test_per_class=1)
    data_opts = [f'test_dataloader.dataset.data_root={root}']
    for name in ('dcal_demo_fgvc', 'glsim_demo', 'clan_r18_demo'):
        config = get_model(name)._config.filename  # the model index resolves the name to our config
        assert osp.samefile(config, osp.join(REPO, 'configs', {'d': 'dcal', 'g': 'glsim', 'c': 'clan'}[name[0]],
                                             osp.basename(config)))
        ckpt = _random_checkpoint(name, str(tmp_path / f'{name}.pth'))
        dump = _test_dump(run_tool, config, ckpt, data_opts, str(tmp_path / name / 'out.pkl'))
        results = ImageClassificationInferencer(name, pretrained=ckpt, device='cpu')(
            [d['img_path'] for d in dump], batch_size=16)
        got = torch.stack([torch.as_tensor(r['pred_scores']) for r in results])
        torch.testing.assert_close(got, torch.stack([d['pred_score'] for d in dump]), rtol=0, atol=1e-6)
        assert [r['pred_label'] for r in results] == [int(d['pred_label']) for d in dump]
        # the same weights by name through the model index
        by_name = inference_model(name, dump[0]['img_path'], pretrained=ckpt, device='cpu')
        assert by_name['pred_label'] == results[0]['pred_label']


def test_dcal_pre_logits_is_the_predicted_feature():
    cfg = Config.fromfile(osp.join(REPO, 'configs/dcal/demo_fgvc.py'))
    torch.manual_seed(0)
    model = get_model(cfg)
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        feats = model.extract_feat(images)
        pre = model.extract_feat(images, stage='pre_logits')
    torch.testing.assert_close(pre, torch.cat([feats[0], feats[1]], dim=1))
    with pytest.raises(ValueError, match='image retrieval needs pred_feature'):
        model.prototype = torch.randn(4, 128)
        model.predict(images)
