# Copyright (c) OpenMMLab. All rights reserved.
"""A Re-ID query with the junk id or the distractor id is an error."""
import os

import pytest
from mmpretrain.registry import DATASETS


def _market(root, query_names):
    base = os.path.join(root, 'Market-1501-v15.09.15')
    names = dict(bounding_box_train=['0002_c1s1_000451_03.jpg', '0003_c2s1_000451_03.jpg'],
                 bounding_box_test=['0005_c2s1_000451_03.jpg', '0000_c3s1_000451_03.jpg', '-1_c3s1_000451_04.jpg'],
                 query=query_names)
    for folder, files in names.items():
        os.makedirs(os.path.join(base, folder), exist_ok=True)
        for name in files:
            open(os.path.join(base, folder, name), 'wb').close()  # the names are all the dataset reads
    return root


@pytest.mark.parametrize('name,kind', [('0000_c1s1_000451_01.jpg', 'distractor'), ('-1_c1s1_000451_01.jpg', 'junk')])
def test_query_with_distractor_or_junk_id_is_an_error(tmp_path, name, kind):
    root = _market(str(tmp_path), ['0005_c1s1_000451_01.jpg', name])
    with pytest.raises(ValueError, match=f'Market1501: query image .*{name} has the {kind} identity'):
        DATASETS.build(dict(type='Market1501', data_root=root, split='test')).full_init()


def test_valid_queries_load(tmp_path):
    root = _market(str(tmp_path), ['0005_c1s1_000451_01.jpg'])
    dataset = DATASETS.build(dict(type='Market1501', data_root=root, split='test'))
    assert dataset.metainfo['num_query'] == 1 and dataset.metainfo['num_gallery'] == 2  # junk dropped, distractor kept
