# Copyright (c) OpenMMLab. All rights reserved.
"""tools/test.py --tta: Re-ID merges flipped features (normalised mean),
FGVC averages class scores (MMPretrain's AverageClsScoreTTA)."""
import os.path as osp
import pickle

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmpretrain import get_model

import dcal_mm  # noqa: F401
from dcal_mm.datasets import make_demo_cub, make_demo_market1501

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _checkpoint_and_dump(run_tool, tmp_path, config, data_root, extra=()):
    torch.manual_seed(0)
    model = get_model(config)
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    out = str(tmp_path / 'tta.pkl')
    run_tool(['tools/test.py', config, ckpt, '--tta', '--work-dir', str(tmp_path), '--out', out, '--cfg-options',
              f'test_dataloader.dataset.data_root={data_root}', 'test_dataloader.num_workers=0', *extra])
    with open(out, 'rb') as f:
        return model.eval(), pickle.load(f)


def _views(model, config, paths):
    """The test views of the images and their mirrors, through the model's
    preprocessor: computed here, without the TTA machinery."""
    pipeline = Compose(Config.fromfile(config).test_dataloader.dataset.pipeline)
    batch = pseudo_collate([pipeline(dict(img_path=p)) for p in paths])
    plain = model.data_preprocessor(batch)['inputs']
    flipped = model.data_preprocessor(dict(inputs=[img.flip(-1) for img in batch['inputs']]))['inputs']
    return plain, flipped


def test_reid_tta_is_the_normalised_mean_of_image_and_mirror(run_tool, tmp_path):
    root = str(tmp_path / 'data')
    make_demo_market1501(root, num_train_ids=4, num_test_ids=4, num_distractors=2, num_junk=1)
    config = osp.join(REPO, 'configs/dcal/demo_reid.py')
    model, dump = _checkpoint_and_dump(run_tool, tmp_path, config, root)
    assert {'is_query', 'cam_id', 'gt_label'} <= set(dump[0])  # the metric's fields survive the merge
    plain, flipped = _views(model, config, [d['img_path'] for d in dump])
    with torch.no_grad():
        f_plain = model.extract_feat(plain, stage='pre_logits')
        f_flip = model.extract_feat(flipped, stage='pre_logits')
    expected = F.normalize((f_plain + f_flip) / 2, dim=1)
    got = torch.stack([d['pred_feature'] for d in dump])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert not torch.allclose(got, F.normalize(f_plain, dim=1), atol=1e-3)  # the mirror contributes


def test_fgvc_tta_averages_the_scores_of_image_and_mirror(run_tool, tmp_path):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=10, train_per_class=1, test_per_class=1)
    config = osp.join(REPO, 'configs/dcal/demo_fgvc.py')
    model, dump = _checkpoint_and_dump(run_tool, tmp_path, config, root)
    plain, flipped = _views(model, config, [d['img_path'] for d in dump])
    with torch.no_grad():
        scores = [torch.stack([s.pred_score for s in model.predict(x)]) for x in (plain, flipped)]
    got = torch.stack([d['pred_score'] for d in dump])
    torch.testing.assert_close(got, (scores[0] + scores[1]) / 2, rtol=0, atol=1e-6)
