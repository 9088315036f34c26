# Copyright (c) OpenMMLab. All rights reserved.
"""Write scikit-learn's handwritten digits (a small real image set) in CUB-200-2011's layout.

It checks that the FGVC demo recipe learns real images it was not tuned on (the demo set is synthetic): 10 classes
x (60 train + 15 test) images, like the demo set, upsampled from 8x8 to 64x64 (bicubic), grey as RGB. Needs
``pip install scikit-learn`` (not a dependency of dcal_mm).

Example:
    python tools/misc/make_digits_cub.py data/digits
    python tools/train.py configs/dcal/demo_fgvc.py --data-root data/digits/CUB_200_2011
"""
import argparse
import os
import os.path as osp
import shutil
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from dcal_mm.utils.progress import Progress  # noqa: E402


def make_digits_cub(root: str, train_per_class: int = 60, test_per_class: int = 15, size: int = 64,
                    seed: int = 0, progress: bool = True) -> str:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError('make_digits_cub.py needs scikit-learn: pip install scikit-learn') from e
    digits = load_digits()
    rng = np.random.default_rng(seed)
    data_root = osp.join(root, 'CUB_200_2011')
    shutil.rmtree(data_root, ignore_errors=True)
    images, labels, split = [], [], []
    bar = Progress(10 * (train_per_class + test_per_class), enabled=progress, desc=f'writing {data_root}')
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(digits.target == c))[:train_per_class + test_per_class]
        if len(idx) < train_per_class + test_per_class:
            raise ValueError(f'digit {c} has only {len(idx)} images')
        folder = f'{c + 1:03d}.Digit_{c}'
        os.makedirs(osp.join(data_root, 'images', folder))
        for k, i in enumerate(idx):
            img = (digits.images[i] / 16. * 255.).astype(np.float32)
            img = np.clip(cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
            path = f'{folder}/digit_{i:04d}.jpg'
            cv2.imwrite(osp.join(data_root, 'images', path), cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
            images.append(path)
            labels.append(c + 1)
            split.append(1 if k < train_per_class else 0)
            bar.update()
    with open(osp.join(data_root, 'images.txt'), 'w') as f:
        f.writelines(f'{i + 1} {p}\n' for i, p in enumerate(images))
    with open(osp.join(data_root, 'image_class_labels.txt'), 'w') as f:
        f.writelines(f'{i + 1} {c}\n' for i, c in enumerate(labels))
    with open(osp.join(data_root, 'train_test_split.txt'), 'w') as f:
        f.writelines(f'{i + 1} {s}\n' for i, s in enumerate(split))
    with open(osp.join(data_root, 'classes.txt'), 'w') as f:
        f.writelines(f'{c + 1} {c + 1:03d}.Digit_{c}\n' for c in range(10))
    return data_root


def main():
    parser = argparse.ArgumentParser(description="scikit-learn's digits in CUB-200-2011's layout")
    parser.add_argument('root', nargs='?', default='data/digits')
    args = parser.parse_args()
    print(f'digits written to {make_digits_cub(args.root)}')


if __name__ == '__main__':
    main()
