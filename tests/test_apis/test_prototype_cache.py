# Copyright (c) OpenMMLab. All rights reserved.
"""ImageRetrievalInferencer's prototype_cache records the weights and the
gallery it was built from and is rebuilt on a mismatch."""
import os.path as osp
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
import mmpretrain
from mmpretrain import ImageRetrievalInferencer

from dcal_mm.apis import RandomWeightsWarning

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp('gallery')
    rng = np.random.default_rng(0)
    paths = []
    for i in range(5):
        paths.append(str(folder / f'{i}.jpg'))
        cv2.imwrite(paths[-1], rng.integers(0, 255, (64, 32, 3), dtype=np.uint8))
    return paths


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(seed):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RandomWeightsWarning)
        return mmpretrain.get_model(Config.fromfile(osp.join(REPO, 'configs/dcal/demo_reid.py')), pretrained=False)


def test_cache_of_other_weights_or_gallery_is_rebuilt(images, tmp_path, one_thread):
    cache = str(tmp_path / 'gallery.pth')
    model_a, model_b = _model(0), _model(1)
    gallery, query = images[:4], images[4]
    ImageRetrievalInferencer(model_a, prototype=gallery, prototype_cache=cache)
    built_a = torch.load(cache, weights_only=True)
    assert built_a['features'].shape[0] == 4 and built_a['weights'] and built_a['gallery']
    # another checkpoint, same gallery: B's own features, not A's stale ones
    retriever = ImageRetrievalInferencer(model_b, prototype=gallery, prototype_cache=cache)
    built_b = torch.load(cache, weights_only=True)
    assert built_b['weights'] != built_a['weights'] and not torch.allclose(built_b['features'], built_a['features'])
    assert torch.equal(model_b._prototype_vecs, built_b['features'])
    assert {m['sample_idx'] for m in retriever(query, topk=4)[0]} == set(range(4))
    # the same model and gallery again: loaded, not recomputed
    ImageRetrievalInferencer(model_b, prototype=gallery, prototype_cache=cache)
    assert torch.equal(model_b._prototype_vecs, built_b['features'])
    # another gallery (smaller): rebuilt instead of an IndexError later
    ImageRetrievalInferencer(model_b, prototype=gallery[:3], prototype_cache=cache)
    assert torch.load(cache, weights_only=True)['features'].shape[0] == 3
    # an old plain-tensor cache records nothing: rebuilt
    torch.save(torch.zeros(3, 4), cache)
    ImageRetrievalInferencer(model_b, prototype=gallery[:3], prototype_cache=cache)
    assert torch.load(cache, weights_only=True)['features'].shape[0] == 3
