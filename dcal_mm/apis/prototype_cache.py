# Copyright (c) OpenMMLab. All rights reserved.
"""Gallery-feature caches of ``ImageRetrievalInferencer`` that know what they
were built from.

MMPretrain's inferencer loads ``prototype_cache`` whenever the file exists: a
cache built by another checkpoint (same gallery) silently gives wrong
rankings, one from another gallery an ``IndexError``. Here a cache is a dict
with the features, a fingerprint of the weights that computed them and of the
gallery (its image paths and file sizes); a cache whose fingerprints do not
match the inferencer's model and gallery (or an old plain-tensor cache, which
records neither) is rebuilt and overwritten, with a warning that says why.
"""
import hashlib
import logging
import os
import os.path as osp
from pathlib import Path
from typing import Optional

import torch
from mmengine.dataset import BaseDataset, default_collate
from mmengine.logging import MMLogger, print_log

CACHE_FORMAT = 'dcal_mm.prototype_cache/1'


def weights_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of a model's weights (names, shapes and value sums)."""
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, value in model.state_dict().items():
            digest.update(f'{name}{tuple(value.shape)}{value.dtype}'.encode())
            value = value.detach().double()
            digest.update(f'{value.sum().item():.10e}{value.abs().sum().item():.10e}'.encode())
    return digest.hexdigest()[:16]


def gallery_fingerprint(dataset) -> str:
    """A short hash of a gallery: its size, image paths and file sizes."""
    digest = hashlib.sha256(str(len(dataset)).encode())
    for index in range(len(dataset)):
        path = str(dataset.get_data_info(index).get('img_path', index))
        size = osp.getsize(path) if osp.isfile(path) else -1
        digest.update(f'{path}\0{size}\n'.encode())
    return digest.hexdigest()[:16]


def _gallery_loader(inferencer, prototype, batch_size: int):
    """The gallery dataset and dataloader, as MMPretrain's inferencer builds them."""
    from mmengine.dataset import DefaultSampler
    from torch.utils.data import DataLoader

    def build_dataloader(dataset):
        return DataLoader(dataset, batch_size=batch_size, collate_fn=default_collate,
                          sampler=DefaultSampler(dataset, shuffle=False), persistent_workers=False)

    if isinstance(prototype, str):
        prototype = dict(type='CustomDataset', with_label=False, data_root=prototype)
    if isinstance(prototype, list):
        dataset = BaseDataset(lazy_init=True, serialize_data=False,
                              pipeline=[dict(type='LoadImageFromFile'), inferencer.pipeline])
        dataset.data_list = [{'sample_idx': i, 'img_path': file} for i, file in enumerate(prototype)]
        dataset._fully_initialized = True
        return dataset, build_dataloader(dataset)
    if isinstance(prototype, dict):
        from mmpretrain.registry import DATASETS
        prototype.setdefault('pipeline', [dict(type='LoadImageFromFile'), inferencer.pipeline])
        dataset = DATASETS.build(prototype)
        return dataset, build_dataloader(dataset)
    if isinstance(prototype, DataLoader):
        return prototype.dataset, prototype
    if isinstance(prototype, BaseDataset):
        return prototype, build_dataloader(prototype)
    raise TypeError(f'Unsupported prototype type {type(prototype)}.')


def _features(model) -> torch.Tensor:
    """The gallery features a retriever prepared (dcal_mm's or MMPretrain's)."""
    if hasattr(model, '_ensure_prototype'):
        return model._ensure_prototype()
    return model.prototype_vecs


def _cache_mismatch(content, weights: str, gallery: str, num: int) -> Optional[str]:
    """Why a loaded cache cannot be used (None: it can)."""
    if not isinstance(content, dict) or content.get('format') != CACHE_FORMAT:
        return 'it records neither the weights nor the gallery it was built from (an older cache)'
    if content['weights'] != weights:
        return (f'it was built by other weights (checkpoint {content.get("checkpoint")}, fingerprint '
                f'{content["weights"]}; this model: {weights})')
    if content['gallery'] != gallery or content['features'].shape[0] != num:
        return (f'it was built from another gallery ({content["features"].shape[0]} images, fingerprint '
                f'{content["gallery"]}; this gallery: {num} images, {gallery})')
    return None


def prepare_prototype(self, prototype, cache=None, batch_size=8):
    """``ImageRetrievalInferencer._prepare_prototype`` with checked caches.

    Args:
        prototype: The gallery (a folder, a list of files, a dataset config,
            a dataset or a DataLoader).
        cache (str, optional): The cache file: loaded if it matches the model
            and the gallery, else (re)built and saved.
        batch_size (int): Batch size to compute the gallery features.

    Returns:
        BaseDataset: The gallery dataset.
    """
    dataset, dataloader = _gallery_loader(self, prototype, batch_size)
    model = self.model
    weights, gallery = weights_fingerprint(model), gallery_fingerprint(dataset)
    logger = MMLogger.get_current_instance()
    if cache is not None and Path(cache).exists():
        content = torch.load(cache, map_location='cpu', weights_only=True)
        reason = _cache_mismatch(content, weights, gallery, len(dataset))
        if reason is None:
            model.prototype = content['features']
            model.prepare_prototype()
            logger.info(f'prototype_cache {cache}: gallery features loaded (weights and gallery match)')
            return dataset
        print_log(f'prototype_cache {cache} not used: {reason}; rebuilding it', logger='current',
                  level=logging.WARNING)
    model.prototype = dataloader
    model.prepare_prototype()
    if cache is None:
        logger.info('The prototype has been prepared, you can use `save_prototype` to dump it into a pickle file for '
                    'the future usage.')
        return dataset
    content = dict(format=CACHE_FORMAT, features=_features(model).cpu(), weights=weights, gallery=gallery,
                   checkpoint=str(getattr(model, '_checkpoint', None)), num_images=len(dataset))
    tmp = f'{cache}.tmp-{os.getpid()}'
    torch.save(content, tmp)
    os.replace(tmp, cache)
    logger.info(f'The prototype has been saved at {cache} (with the fingerprints of the weights and the gallery).')
    return dataset
