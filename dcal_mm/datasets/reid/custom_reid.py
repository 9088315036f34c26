# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

from mmengine.fileio import list_from_file
from mmpretrain.registry import DATASETS

from .base_reid import BaseReIDDataset, ReIDRecord

_SUBSETS = ('train', 'query', 'gallery')


@DATASETS.register_module()
class CustomReIDDataset(BaseReIDDataset):
    """A Re-ID dataset of your own, configured instead of subclassed.

    Each subset (``train``, ``query``, ``gallery``) is read either

    - from a folder (``subset_dirs``) whose image names give the identity and
      the camera through ``filename_pattern``, a regular expression with the
      named groups ``pid`` and ``cam`` matched against the whole file name;
    - or from a list file (``ann_files``): one ``path pid cam`` line per image,
      ``path`` relative to the dataset folder, separated by spaces.

    Camera numbers minus ``cam_offset`` are the 0-based ``cam_id`` s. Images
    with the identity ``-1`` are junk and dropped (as Market-1501's). The
    rest follows :class:`BaseReIDDataset`: ``split='train'`` relabels the
    identities to 0..N-1, ``split='test'`` is the query set then the gallery,
    evaluated by ``ReIDMetric``.

    Example (a Market-style layout with names such as ``0042_cam3_17.png``)::

        dataset=dict(type='CustomReIDDataset', data_root='data/my_reid', split='test',
                     filename_pattern=r'(?P<pid>\\d+)_cam(?P<cam>\\d+)_\\d+\\.png')

    Args:
        data_root (str): The dataset folder.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        filename_pattern (str, optional): Regex with groups ``pid`` and
            ``cam`` for the folders. Required unless every subset of the split
            has a list file.
        subset_dirs (dict, optional): Folder of each subset, relative to
            ``data_root``. Defaults to Market-1501's ``bounding_box_train``,
            ``query`` and ``bounding_box_test``.
        ann_files (dict, optional): List file of some subsets, relative to
            ``data_root``; a subset with one is not read from its folder.
        cam_offset (int): Subtracted from camera numbers. Defaults to 1
            (cameras numbered from 1).
        img_suffixes (Sequence[str]): Image extensions in the folders.
            Defaults to ``('.jpg', '.jpeg', '.png', '.bmp')``.
        **kwargs: See :class:`BaseReIDDataset` (``pipeline``, ...).
    """

    SUBSET_DIRS = dict(train='bounding_box_train', query='query', gallery='bounding_box_test')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 filename_pattern: Optional[str] = None,
                 subset_dirs: Optional[Dict[str, str]] = None,
                 ann_files: Optional[Dict[str, str]] = None,
                 cam_offset: int = 1,
                 img_suffixes: Sequence[str] = ('.jpg', '.jpeg', '.png', '.bmp'),
                 **kwargs) -> None:
        for name, mapping in (('subset_dirs', subset_dirs), ('ann_files', ann_files)):
            unknown = sorted(set(mapping or {}) - set(_SUBSETS))
            if unknown:
                raise ValueError(f'CustomReIDDataset: {name} keys must be in {_SUBSETS}, got {unknown}')
        self.subset_dirs = dict(self.SUBSET_DIRS, **(subset_dirs or {}))
        self.ann_files = dict(ann_files or {})
        self.cam_offset = cam_offset
        self.IMG_SUFFIXES = tuple(s.lower() for s in img_suffixes)
        self.FILENAME_PATTERN = None
        if filename_pattern is not None:
            try:
                self.FILENAME_PATTERN = re.compile(filename_pattern)
            except re.error as e:
                raise ValueError(f'CustomReIDDataset: filename_pattern {filename_pattern!r} is not a regex: {e}')
            missing = {'pid', 'cam'} - set(self.FILENAME_PATTERN.groupindex)
            if missing:
                raise ValueError(f'CustomReIDDataset: filename_pattern {filename_pattern!r} lacks the named '
                                 f'group(s) {sorted(missing)}, e.g. (?P<pid>\\d+)_c(?P<cam>\\d+)')
        super().__init__(data_root=data_root, split=split, dataset_dir='', **kwargs)

    def load_records(self, subset: str) -> List[ReIDRecord]:
        """Read one subset from its list file or its folder.

        Args:
            subset (str): ``'train'``, ``'query'`` or ``'gallery'``.

        Returns:
            list[tuple[str, int, int]]: ``(img_path, pid, cam_id)`` records.
        """
        if subset in self.ann_files:
            return self._read_list(osp.join(self.dataset_dir, self.ann_files[subset]))
        if self.FILENAME_PATTERN is None:
            raise ValueError(f'CustomReIDDataset: the {subset} subset has no list file (ann_files) and no '
                             'filename_pattern to read its folder')
        folder = osp.join(self.dataset_dir, self.subset_dirs[subset])
        self.check_exists(folder)
        return self.parse_folder(folder, self.IMG_SUFFIXES)

    def parse_folder(self, folder: str, suffixes: Optional[Sequence[str]] = None) -> List[ReIDRecord]:
        """Parse the images of a folder (case-insensitive extensions)."""
        suffixes = tuple(suffixes or self.IMG_SUFFIXES)
        return [(osp.join(folder, name), *self.parse_name(name, osp.join(folder, name)))
                for name in sorted(os.listdir(folder)) if name.lower().endswith(suffixes)]

    def parse_name(self, name: str, where: str):
        """``(pid, cam_id)`` of a file name by ``filename_pattern``."""
        match = self.FILENAME_PATTERN.fullmatch(name)
        if match is None:
            raise ValueError(f'CustomReIDDataset: file name {where} does not match filename_pattern '
                             f'{self.FILENAME_PATTERN.pattern!r}')
        return int(match.group('pid')), self._cam_id(int(match.group('cam')), where)

    def _cam_id(self, cam: int, where: str) -> int:
        if cam - self.cam_offset < 0:
            raise ValueError(f'CustomReIDDataset: camera {cam} in {where} is below cam_offset={self.cam_offset}')
        return cam - self.cam_offset

    def _read_list(self, path: str) -> List[ReIDRecord]:
        self.check_exists(path, 'file')
        records = []
        for n, line in enumerate(list_from_file(path), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3 or not all(p.lstrip('-').isdigit() for p in parts[1:]):
                raise ValueError(f'CustomReIDDataset: {path}:{n} must be "path pid cam" (two integers), got '
                                 f'{line.strip()!r}')
            records.append((osp.join(self.dataset_dir, parts[0]), int(parts[1]),
                            self._cam_id(int(parts[2]), f'{path}:{n}')))
        return records
