# Copyright (c) OpenMMLab. All rights reserved.
"""Generate the synthetic demo datasets used by the demo configs.

Writes ``<root>/CUB_200_2011`` (fine-grained, CUB-200-2011 layout) and
``<root>/Market-1501-v15.09.15`` (person Re-ID, Market-1501 layout). With
neither ``--fgvc`` nor ``--reid`` both are made. Deterministic for a seed.

Example::

    python tools/misc/make_demo_data.py                 # data/demo/...
    python tools/misc/make_demo_data.py --fgvc --root /tmp/demo --overwrite
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if sys.path[0] != REPO_ROOT:
    sys.path.insert(0, REPO_ROOT)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate the demo FGVC (CUB layout) and Re-ID (Market layout) data')
    parser.add_argument('--root', default='data/demo', help='output folder (default: data/demo)')
    parser.add_argument('--fgvc', action='store_true', help='make the fine-grained set CUB_200_2011')
    parser.add_argument('--reid', action='store_true', help='make the Re-ID set Market-1501-v15.09.15')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    parser.add_argument('--overwrite', action='store_true', help='replace existing demo folders')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    make_fgvc = args.fgvc or not args.reid
    make_reid = args.reid or not args.fgvc
    if make_fgvc:
        from dcal_mm.datasets.demo.cub_demo import make_demo_cub
        path = make_demo_cub(args.root, seed=args.seed, overwrite=args.overwrite, progress=True)
        print(f'FGVC demo data written to {path}')
    if make_reid:
        # imported lazily: the FGVC part must not depend on the Re-ID generator
        from dcal_mm.datasets.demo.market_demo import make_demo_market1501
        path = make_demo_market1501(args.root, seed=args.seed, overwrite=args.overwrite, progress=True)
        print(f'Re-ID demo data written to {path}')


if __name__ == '__main__':
    main()
