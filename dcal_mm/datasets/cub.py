# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmengine.fileio import list_from_file
from mmpretrain.datasets import CUB as _MMPretrainCUB
from mmpretrain.registry import DATASETS

_NUMBERED = re.compile(r'^\d+\.')


def read_cub_classes(path: str) -> Tuple[str, ...]:
    """Class names of a CUB-layout ``classes.txt`` (``<id> <NNN.Name>`` lines),
    in id order, without the ``NNN.`` prefix (``'Black_footed_Albatross'``, as
    MMPretrain's built-in CUB names).

    Args:
        path (str): The ``classes.txt`` file.

    Returns:
        tuple[str]: The names; class id ``i`` (1-based) is ``names[i - 1]``.
    """
    entries = {}
    for number, line in enumerate(list_from_file(path), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f'{path}, line {number}: expected "<class id> <name>", got {line!r}')
        entries[int(parts[0])] = _NUMBERED.sub('', parts[1].strip())
    ids = sorted(entries)
    if ids != list(range(1, len(ids) + 1)):
        raise ValueError(f'{path}: class ids must be 1..N without gaps, got {ids[:5]}...{ids[-3:]}')
    return tuple(entries[i] for i in ids)


@DATASETS.register_module(name='CUB', force=True)
class CUB(_MMPretrainCUB):
    """MMPretrain's ``CUB`` whose class names come from the data's own
    ``classes.txt``.

    MMPretrain's ``CUB`` always names the 200 CUB-200-2011 species, so any
    other set in CUB's layout (the demo set, a custom one) got those names in
    its checkpoints (``dataset_meta``), inferencers, ONNX metadata and
    analysis tools: the demo's ``003.Cross_Crown`` answered as
    ``Sooty_Albatross``. Here the names are read from ``data_root/classes.txt``
    when it exists (it does in the official archive, where they equal
    MMPretrain's list) and every label must have a name. ``metainfo`` /
    ``classes`` passed explicitly win. Replaces ``CUB`` in MMPretrain's
    registry once :mod:`dcal_mm` is imported; arguments are MMPretrain's.

    Args:
        data_root (str): The ``CUB_200_2011`` folder.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        test_mode (bool): See MMPretrain's ``CUB``. Defaults to False.
        **kwargs: MMPretrain's other arguments.
    """

    def __init__(self, data_root: str, split: str = 'train', test_mode: bool = False, **kwargs) -> None:
        metainfo = kwargs.pop('metainfo', None) or {}
        self.classes_file: Optional[str] = None
        path = osp.join(data_root, 'classes.txt')
        if 'classes' not in metainfo and kwargs.get('classes') is None and osp.isfile(path):
            metainfo = dict(metainfo, classes=read_cub_classes(path))
            self.classes_file = path
        super().__init__(data_root=data_root, split=split, test_mode=test_mode, metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        """MMPretrain's data list; every label must name a class."""
        data_list = super().load_data_list()
        num_classes = len(self.CLASSES or ())
        bad = [info for info in data_list if not 0 <= info['gt_label'] < num_classes]
        if num_classes and bad:
            source = self.classes_file or f'{type(self).__name__}.METAINFO'
            raise ValueError(f'{self.image_class_labels_file}: class id {bad[0]["gt_label"] + 1} (image '
                             f'{bad[0]["img_path"]}) has no name in {source}, which lists {num_classes} classes')
        return data_list
