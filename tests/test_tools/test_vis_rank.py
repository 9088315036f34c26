# Copyright (c) OpenMMLab. All rights reserved.
"""tools/visualization/vis_rank.py: rank lists from the model and from a
tools/test.py dump, checked against a ranking computed here."""
import json
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain import get_model

import dcal_mm  # noqa: F401
from dcal_mm.datasets import make_demo_market1501
from dcal_mm.visualization import KIND_COLORS, SAME_CAMERA_COLOR, cell_origin, draw_rank_list

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/dcal/demo_reid.py')
CELL = (64, 32)


def _reference_ranking(dump):
    """Gallery order and match kind per query, by the Market-1501 protocol."""
    label = {k: (lambda r, k=k: int(torch.as_tensor(r[k]).reshape(-1)[0])) for k in ('gt_label', 'cam_id')}
    queries = [r for r in dump if r['is_query']]
    gallery = [r for r in dump if not r['is_query']]
    g = F.normalize(torch.stack([r['pred_feature'] for r in gallery]), dim=1)
    out = []
    for q in queries:
        dist = 2 - 2 * g @ F.normalize(q['pred_feature'], dim=0)
        ranked = []
        for j in dist.argsort(stable=True).tolist():
            same_id = label['gt_label'](gallery[j]) == label['gt_label'](q)
            same_cam = label['cam_id'](gallery[j]) == label['cam_id'](q)
            ranked.append((gallery[j]['img_path'], 'junk' if same_id and same_cam else 'true' if same_id else 'false',
                           same_cam))
        out.append(ranked)
    return out


def test_vis_rank_from_model_and_dump(run_tool, tmp_path):
    root = str(tmp_path / 'data')
    make_demo_market1501(root, num_train_ids=4, num_test_ids=5, num_distractors=2, num_junk=1)
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': get_model(CONFIG).state_dict()}, ckpt)
    data = ['--cfg-options', f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0']
    dump_file = str(tmp_path / 'feats.pkl')
    run_tool(['tools/test.py', CONFIG, ckpt, '--work-dir', str(tmp_path), '--out', dump_file, '--show-dir', 'show',
              *data])
    common = ['--queries', '0', '2', '4', '--topk', '6', '--cell-size', *map(str, CELL)]
    run_tool(['tools/visualization/vis_rank.py', CONFIG, ckpt, '--out-dir', str(tmp_path / 'model'), *common, *data])
    run_tool(['tools/visualization/vis_rank.py', '--dump', dump_file, '--out-dir', str(tmp_path / 'dump'), *common])

    # tools/test.py --show-dir of a Re-ID model: vis_rank.py's rank lists (default settings), not the query alone
    run_tool(['tools/visualization/vis_rank.py', '--dump', dump_file, '--out-dir', str(tmp_path / 'defaults')])
    shown = json.load(open(tmp_path / 'show' / 'ranks.json'))
    assert [r['query_index'] for r in shown] == [r['query_index'] for r in
                                                  json.load(open(tmp_path / 'defaults' / 'ranks.json'))]
    for entry in shown:
        image = cv2.imread(entry['image'])
        assert image.shape[0] >= 128 and image.shape[1] > 5 * 64, image.shape
        assert np.array_equal(image, cv2.imread(str(tmp_path / 'defaults' / osp.basename(entry['image']))))

    with open(dump_file, 'rb') as f:
        reference = _reference_ranking(pickle.load(f))
    ranks = json.load(open(tmp_path / 'model' / 'ranks.json'))
    assert [r['query_index'] for r in ranks] == [0, 2, 4]
    kinds_seen = set()
    for entry in ranks:
        expected = reference[entry['query_index']][:6]
        assert [(g['path'], g['kind'], g['same_camera']) for g in entry['gallery']] == expected
        image = cv2.imread(entry['image'])
        # the same picture from the dump as from the model
        dump_image = cv2.imread(str(tmp_path / 'dump' / osp.basename(entry['image'])))
        assert np.array_equal(image, dump_image)
        for pos, (_, kind, same_cam) in enumerate(expected, start=1):
            x, y = cell_origin(pos, CELL)
            assert tuple(image[y + 1, x + 1]) == KIND_COLORS[kind]  # the border
            tag = tuple(image[y + 4 + 2, x + 4 + CELL[1] - 2])  # inside the top-right corner
            assert (tag == SAME_CAMERA_COLOR) == same_cam
            kinds_seen.add(kind)
        assert tuple(image[cell_origin(0, CELL)[1] + 1, cell_origin(0, CELL)[0] + 1]) == KIND_COLORS['query']
    assert len(kinds_seen) >= 2

    run_tool(['tools/visualization/vis_rank.py', '--dump', dump_file, '--out-dir', str(tmp_path / 'nojunk'),
              '--hide-junk', *common])
    for entry in json.load(open(tmp_path / 'nojunk' / 'ranks.json')):
        expected = [r for r in reference[entry['query_index']] if r[1] != 'junk'][:6]
        assert [(g['path'], g['kind']) for g in entry['gallery']] == [r[:2] for r in expected]


def test_draw_rank_list_checks_its_inputs():
    img = np.zeros((20, 10, 3), np.uint8)
    with pytest.raises(ValueError, match='2 gallery images need 2 kinds'):
        draw_rank_list(img, [img, img], kinds=['true'])
    with pytest.raises(ValueError, match="got 'maybe'"):
        draw_rank_list(img, [img], kinds=['maybe'])
