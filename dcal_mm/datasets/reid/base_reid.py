# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
import re
from typing import List, Optional, Sequence, Tuple

from mmpretrain.datasets import BaseDataset

# (absolute image path, raw identity id, 0-based camera id)
ReIDRecord = Tuple[str, int, int]

JUNK_PID = -1


class BaseReIDDataset(BaseDataset):
    """Shared machinery of the Re-ID datasets (person and vehicle).

    A subclass only says where the images of each subset are and how an
    identity and a camera are read from them: a folder per subset
    (``SUBSET_DIRS``) whose file names match ``FILENAME_PATTERN``, or its own
    :meth:`load_records`. This class turns the records into mmpretrain data
    infos:

    - ``split='train'``: the training subset. Junk images (id ``-1``) are
      dropped and identities are relabelled to ``0..N-1`` in sorted id order.
      ``metainfo['num_ids']`` is ``N``.
    - ``split='test'``: the query subset followed by the gallery subset, each
      data info carrying ``is_query``. Ids are the original ones, distractors
      (id ``0`` on Market-1501) are kept, junk (``-1``) is dropped from the
      gallery. A query with the junk id or the distractor id
      (``DISTRACTOR_PID``) is an error: it has no true match, or would be
      scored against the distractors. ``metainfo['num_query']`` and
      ``metainfo['num_gallery']`` give the sizes.

    Every data info has ``img_path`` (str), ``gt_label`` (int) and ``cam_id``
    (int, 0-based: the camera number in the file name minus 1).

    Args:
        data_root (str): The folder that holds the dataset folder.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        dataset_dir (str, optional): The dataset folder, relative to
            ``data_root``. ``''`` means ``data_root`` itself is the dataset
            folder. Defaults to None, i.e. the class's ``DATASET_DIR``.
        test_mode (bool): See :class:`mmengine.dataset.BaseDataset`.
            Defaults to False.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``lazy_init``, ``indices``, ``metainfo``...).
    """

    #: Default dataset folder relative to ``data_root``.
    DATASET_DIR: str = ''
    #: Camera numbers in file names / lists run from 1 to ``NUM_CAMS``.
    NUM_CAMS: int = 0
    #: Extensions of the image files read from a folder.
    IMG_SUFFIXES: Tuple[str, ...] = ('.jpg', )
    #: Regex a file name must match (named groups ``pid`` and ``cam``).
    FILENAME_PATTERN: Optional[re.Pattern] = None
    #: An example file name, quoted in errors.
    FILENAME_EXAMPLE: str = ''
    #: Folder of each subset, relative to the dataset folder.
    SUBSET_DIRS = dict(train='bounding_box_train', query='query', gallery='bounding_box_test')
    #: Identity of the gallery's distractors (never a query), None if the dataset has none.
    DISTRACTOR_PID: Optional[int] = None

    SPLITS = ('train', 'test')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 dataset_dir: Optional[str] = None,
                 test_mode: bool = False,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: split must be one of {self.SPLITS}, got {split!r}')
        self.split = split
        dataset_dir = self.DATASET_DIR if dataset_dir is None else dataset_dir
        self.dataset_dir = osp.join(osp.expanduser(data_root), dataset_dir)
        super().__init__(ann_file='', data_root=data_root, data_prefix='', test_mode=test_mode, **kwargs)

    def load_records(self, subset: str) -> List[ReIDRecord]:
        """Read one subset.

        Args:
            subset (str): ``'train'``, ``'query'`` or ``'gallery'``.

        Returns:
            list[tuple[str, int, int]]: ``(img_path, pid, cam_id)`` per image,
            ``pid`` as in the files (``-1`` for junk) and ``cam_id`` 0-based.
        """
        return self.parse_folder(osp.join(self.dataset_dir, self.SUBSET_DIRS[subset]))

    def load_data_list(self) -> List[dict]:
        """Build the data infos of the split (see the class docstring)."""
        if self.split == 'train':
            records = self._drop_junk(self.load_records('train'))
            if not records:
                raise ValueError(f'{type(self).__name__}: no training images in {self.dataset_dir}')
            pid2label = {pid: label for label, pid in enumerate(sorted({pid for _, pid, _ in records}))}
            self._metainfo['num_ids'] = len(pid2label)
            return [dict(img_path=path, gt_label=pid2label[pid], cam_id=cam) for path, pid, cam in records]

        query = self.load_records('query')
        for path, pid, _ in query:
            if pid == JUNK_PID or (self.DISTRACTOR_PID is not None and pid == self.DISTRACTOR_PID):
                kind = 'junk' if pid == JUNK_PID else 'distractor'
                raise ValueError(f'{type(self).__name__}: query image {path} has the {kind} identity {pid}; a query '
                                 'must be a real identity (it would have no true match, or match the distractors)')
        gallery = self._drop_junk(self.load_records('gallery'))
        for name, records in (('query', query), ('gallery', gallery)):
            if not records:
                raise ValueError(f'{type(self).__name__}: the {name} set in {self.dataset_dir} is empty')
        self._metainfo['num_query'] = len(query)
        self._metainfo['num_gallery'] = len(gallery)
        return ([dict(img_path=p, gt_label=pid, cam_id=cam, is_query=True) for p, pid, cam in query] +
                [dict(img_path=p, gt_label=pid, cam_id=cam, is_query=False) for p, pid, cam in gallery])

    @staticmethod
    def _drop_junk(records: List[ReIDRecord]) -> List[ReIDRecord]:
        return [r for r in records if r[1] != JUNK_PID]

    # helpers for subclasses
    def check_exists(self, path: str, kind: str = 'folder') -> str:
        """Raise FileNotFoundError naming ``path`` if it is missing.

        Args:
            path (str): A folder (``kind='folder'``) or file path.
            kind (str): ``'folder'`` or ``'file'``.

        Returns:
            str: ``path``.
        """
        exists = osp.isdir(path) if kind == 'folder' else osp.isfile(path)
        if not exists:
            raise FileNotFoundError(f'{type(self).__name__}: expected {kind} {path} does not exist')
        return path

    def parse_name(self, name: str, where: str) -> Tuple[int, int]:
        """Read ``(pid, cam_id)`` from an image file name with
        ``FILENAME_PATTERN``.

        Args:
            name (str): The file's base name.
            where (str): The path quoted in errors.

        Returns:
            tuple[int, int]: The raw pid and the 0-based camera id.
        """
        match = self.FILENAME_PATTERN.fullmatch(name)
        if match is None:
            raise ValueError(f'{type(self).__name__}: file name {where} does not match '
                             f'{self.FILENAME_PATTERN.pattern} (e.g. {self.FILENAME_EXAMPLE})')
        cam = int(match.group('cam'))
        if not 1 <= cam <= self.NUM_CAMS:
            raise ValueError(f'{type(self).__name__}: camera {cam} in {where} is outside 1..{self.NUM_CAMS}')
        return int(match.group('pid')), cam - 1

    def parse_folder(self, folder: str, suffixes: Optional[Sequence[str]] = None) -> List[ReIDRecord]:
        """Parse every image of a folder (sorted by name) with
        :meth:`parse_name`.

        Only files ending in one of ``suffixes`` are images (Market-1501 ships
        a ``Thumbs.db`` next to them); every image name must match.

        Args:
            folder (str): The image folder.
            suffixes (Sequence[str], optional): Image extensions. Defaults to
                ``IMG_SUFFIXES``.

        Returns:
            list[tuple[str, int, int]]: ``(img_path, pid, cam_id)`` records.
        """
        self.check_exists(folder)
        suffixes = tuple(suffixes or self.IMG_SUFFIXES)
        records = []
        for name in sorted(os.listdir(folder)):
            if not name.endswith(suffixes):
                continue
            path = osp.join(folder, name)
            pid, cam = self.parse_name(name, path)
            records.append((path, pid, cam))
        return records

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        body = [f'Root of dataset: \t{self.dataset_dir}', f'Split: \t{self.split}']
        if self._fully_initialized:
            for key in ('num_ids', 'num_query', 'num_gallery'):
                if key in self._metainfo:
                    body.append(f'{key}: \t{self._metainfo[key]}')
        return body
