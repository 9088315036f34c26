# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader

import dcal_mm  # noqa: F401


def _model(neck_feat='after'):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='ReIDClassifier',
            backbone=dict(type='ResNet', depth=18, num_stages=2, out_indices=(1, ), strides=(1, 2),
                          dilations=(1, 1)),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='ReIDHead', num_classes=3, in_channels=128, neck_feat=neck_feat)))
    model.head.bnneck.bn.running_mean.normal_()  # BN at test time is not the identity
    return model.eval()


def _gallery_loader(images):
    samples = [dict(inputs=img, data_samples=DataSample(metainfo=dict(sample_idx=i))) for i, img in enumerate(images)]
    return DataLoader(samples[::-1], batch_size=2, collate_fn=lambda b: dict(
        inputs=[s['inputs'] for s in b], data_samples=[s['data_samples'] for s in b]))


def test_pre_logits_is_the_predicted_feature_after_the_bn():
    model = _model('after')
    images = torch.rand(4, 3, 32, 16) * 255
    with torch.no_grad():
        predicted = torch.stack([s.pred_feature for s in model.predict(images)])
        pre_logits = model.extract_feat(images, stage='pre_logits')
        pre_bn = model.extract_feat(images)[-1]
    torch.testing.assert_close(pre_logits, predicted)
    assert not torch.allclose(pre_logits, pre_bn)


def test_prototype_matching_and_dump(tmp_path):
    model = _model('before')
    gallery = (torch.rand(5, 3, 32, 16) * 255).to(torch.uint8)
    with torch.no_grad():
        g_feat = model.extract_feat(model.data_preprocessor(dict(inputs=list(gallery)))['inputs'], 'pre_logits')
        query = gallery[[3, 0]].float()
        q_feat = model.extract_feat(query, stage='pre_logits')
        # a dataloader in any order: gallery items are placed by sample_idx
        model.prototype = _gallery_loader(list(gallery))
        model.prepare_prototype()
        results = model.predict(query)
    expected = F.normalize(q_feat, dim=1) @ F.normalize(g_feat, dim=1).t()
    torch.testing.assert_close(torch.stack([r.pred_score for r in results]), expected)
    assert [int(r.pred_label[0]) for r in results] == [3, 0]  # each query finds itself first
    assert all('pred_feature' in r for r in results)

    path = str(tmp_path / 'proto.pth')
    model.dump_prototype(path)
    torch.testing.assert_close(torch.load(path, weights_only=True), g_feat)
    model.prototype = path  # a new prototype is prepared on the next predict
    with torch.no_grad():
        again = model.predict(query)
    torch.testing.assert_close(torch.stack([r.pred_score for r in again]), expected)

    model.prototype = None  # back to plain feature extraction (tools/test.py)
    with torch.no_grad():
        assert 'pred_score' not in model.predict(query)[0]


def test_prototype_errors_are_one_line():
    model = _model()
    with pytest.raises(ValueError, match='set model.prototype'):
        model.prepare_prototype()
    model.prototype = torch.zeros(4, 7)
    with pytest.raises(ValueError, match='query features have 128 dims but the prototype has 7'):
        model.predict(torch.rand(1, 3, 32, 16))
    model.prototype = 3
    with pytest.raises(TypeError, match='prototype must be a DataLoader'):
        model.prepare_prototype()
