# Copyright (c) OpenMMLab. All rights reserved.
"""Classify one image with a dcal_mm FGVC model (DCAL, its SA baseline, GLSim, CLAN) through MMPretrain's
ImageClassificationInferencer: prints the top-k classes with their scores; with --show-dir, also writes the model's
attention picture (rollout and GLCA's selected patches, GLSim's crop box, CLAN's maps; see
tools/visualization/vis_attention.py).

Example:
    python demo/image_demo.py data/demo/CUB_200_2011/images/001.Bar_Crown/Bar_Crown_0001.jpg \\
        configs/dcal/demo_fgvc.py work_dirs/demo_fgvc/epoch_30.pth --show-dir vis/

IMG CONFIG CHECKPOINT are positional (CONFIG CHECKPOINT as in MMPretrain's tools; without CHECKPOINT, or with
``none``, random weights); ``--checkpoint CKPT`` still works for one release and prints a deprecation message.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from mmpretrain import ImageClassificationInferencer  # noqa: E402

import dcal_mm  # noqa: E402,F401
from dcal_mm.apis import build_inference_model  # noqa: E402
from dcal_mm.utils.cli import add_checkpoint_args, resolve_checkpoint  # noqa: E402
from dcal_mm.utils.errors import install_excepthook  # noqa: E402
from dcal_mm.visualization import attention_maps, load_view, render_attention_picture  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Image classification demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('model', help='config file or model name (mmpretrain.list_models())')
    add_checkpoint_args(parser, 'IMG CONFIG CHECKPOINT', 'third')
    parser.add_argument('--topk', type=int, default=5, help='classes to print')
    parser.add_argument('--show-dir', help='folder for the attention picture')
    parser.add_argument('--device', default='cpu')
    return resolve_checkpoint(parser, parser.parse_args(argv))


def top_classes(scores, classes, topk):
    """``(rank, class index, name, score)`` of the best ``topk`` classes."""
    order = np.argsort(-scores, kind='stable')[:topk]
    named = classes is not None and len(classes) == len(scores)
    return [(r + 1, int(i), classes[i] if named else f'class {i}', float(scores[i])) for r, i in enumerate(order)]


def main():
    args = parse_args()
    install_excepthook()
    if cv2.imread(args.img) is None:
        raise ValueError(f'{args.img} is not a readable image')
    model, pipeline = build_inference_model(args.model, args.checkpoint, args.device)
    inferencer = ImageClassificationInferencer(model, device=args.device)
    result = inferencer(args.img)[0]
    print(f'\n{args.img}' + ('' if args.checkpoint else ' (RANDOM weights: no checkpoint given, the classes are '
                              'meaningless)') + ':')
    top = top_classes(result['pred_scores'], inferencer.classes, args.topk)
    for rank, index, name, score in top:
        print(f'{rank}. {name} (label {index}): {score:.4f}')
    if args.show_dir:
        inputs, view = load_view(model, pipeline, args.img)
        maps = attention_maps(model, inputs.to(args.device))
        if not maps:
            print(f'{type(model).__name__} has no attention picture')
            return
        os.makedirs(args.show_dir, exist_ok=True)
        out = osp.join(args.show_dir, osp.splitext(osp.basename(args.img))[0] + '_attention.png')
        _, index, name, score = top[0]
        cv2.imwrite(out, render_attention_picture(view, maps, title=f'{name} (label {index}): {score:.3f}'))
        print(f'attention ({", ".join(maps)}) -> {out}')


if __name__ == '__main__':
    main()
