# Copyright (c) OpenMMLab. All rights reserved.
"""Print the end-of-demo summary of tools/run_demo.sh: metric per demo, its chance level and the training time.

Chance levels: FGVC top-1 of a uniform guess (1 / number of classes); Re-ID mAP and Rank-1 of random rankings of the
demo test gallery under the Market-1501 protocol (mean of 20 random distance matrices).

Example:
    python tools/misc/demo_summary.py --fgvc work_dirs/demo_fgvc/test.log 150 --reid work_dirs/demo_reid/test.log 90
"""
import argparse
import os.path as osp
import re
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def last(log: str, key: str) -> float:
    found = re.findall(rf'{re.escape(key)}: ([0-9.]+)', log)
    if not found:
        raise ValueError(f'no {key} in the test log')
    return float(found[-1])


def reid_chance(data_root: str) -> tuple:
    from dcal_mm.datasets import Market1501
    from dcal_mm.evaluation.functional import evaluate_reid
    dataset = Market1501(data_root=data_root, split='test', test_mode=True)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    q = [i for i in infos if i['is_query']]
    g = [i for i in infos if not i['is_query']]
    rng = np.random.default_rng(0)
    maps, rank1 = [], []
    for _ in range(20):
        res = evaluate_reid(rng.random((len(q), len(g))), [i['gt_label'] for i in q], [i['gt_label'] for i in g],
                            [i['cam_id'] for i in q], [i['cam_id'] for i in g])
        maps.append(100 * res['mAP'])
        rank1.append(100 * res['CMC'][0])
    return float(np.mean(maps)), float(np.mean(rank1))


def main():
    parser = argparse.ArgumentParser(description='Summary of the demo runs')
    parser.add_argument('--fgvc', nargs=2, metavar=('TEST_LOG', 'TRAIN_SECONDS'))
    parser.add_argument('--reid', nargs=2, metavar=('TEST_LOG', 'TRAIN_SECONDS'))
    parser.add_argument('--num-classes', type=int, default=10)
    parser.add_argument('--reid-root', default='data/demo')
    args = parser.parse_args()
    print('\n==================== demo summary ====================')
    if args.fgvc:
        top1 = last(open(args.fgvc[0]).read(), 'accuracy/top1')
        print(f'FGVC  (configs/dcal/demo_fgvc.py): top-1 {top1:.1f}%   chance {100 / args.num_classes:.1f}%   '
              f'trained in {args.fgvc[1]} s')
    if args.reid:
        log = open(args.reid[0]).read()
        chance_map, chance_r1 = reid_chance(args.reid_root)
        print(f'Re-ID (configs/dcal/demo_reid.py): mAP {last(log, "reid/mAP"):.1f}  Rank-1 '
              f'{last(log, "reid/Rank-1"):.1f}   random ranking: mAP {chance_map:.1f}  Rank-1 {chance_r1:.1f}   '
              f'trained in {args.reid[1]} s')


if __name__ == '__main__':
    main()
