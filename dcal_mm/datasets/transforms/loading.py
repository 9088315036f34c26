# Copyright (c) OpenMMLab. All rights reserved.
import logging
import os.path as osp
from typing import Optional

import mmpretrain.datasets.transforms  # noqa: F401  (registers mmcv's loader first; ours replaces it)
from mmcv.transforms import LoadImageFromFile as _MMCVLoadImageFromFile
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS


def _reason(err: Exception) -> str:
    """One line for an exception (cv2's messages span several)."""
    text = ' '.join(str(err).split())
    return f'{type(err).__name__}: {text[:200]}'


@TRANSFORMS.register_module(name='LoadImageFromFile', force=True)
class LoadImageFromFile(_MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` whose failures name the file.

    Replaces the ``LoadImageFromFile`` of MMPretrain's registry once
    :mod:`dcal_mm` is imported, so every config's pipeline gets it; the
    arguments and the loaded results are mmcv's. mmcv stops on an empty or
    corrupt file with a decoder assertion that names no file; here it is an
    ``OSError`` naming the path and the reason (``empty file (0 bytes)``, the
    decoder's message).

    With ``ignore_empty=True`` (the opt-in, mmcv's argument) an unreadable
    image is skipped instead: the transform returns None, so a training set
    draws another sample (MMEngine's ``BaseDataset``), and a warning names the
    file and counts the skips of this process (each dataloader worker counts
    its own). A test set cannot skip samples and still stops.

    Args:
        ignore_empty (bool): Skip unreadable images (logged and counted)
            instead of stopping. Defaults to False.
        **kwargs: mmcv's other arguments (``to_float32``, ``color_type``,
            ``imdecode_backend``, ``backend_args``...).
    """

    def __init__(self, ignore_empty: bool = False, **kwargs) -> None:
        super().__init__(ignore_empty=False, **kwargs)
        self.skip_unreadable = ignore_empty
        self.num_skipped = 0

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            return super().transform(results)
        except Exception as err:  # noqa: BLE001 - any read / decode failure
            reason = _reason(err)
            if isinstance(filename, str) and osp.isfile(filename) and osp.getsize(filename) == 0:
                reason = 'empty file (0 bytes)'
            if not self.skip_unreadable:
                raise OSError(f'cannot read image {filename}: {reason}') from err
            self.num_skipped += 1
            print_log(
                f'LoadImageFromFile: skipped unreadable image {filename} ({reason}); {self.num_skipped} skipped by '
                'this process so far',
                logger='current',
                level=logging.WARNING)
            return None

    def __repr__(self) -> str:
        return super().__repr__().replace('ignore_empty=False', f'ignore_empty={self.skip_unreadable}')
