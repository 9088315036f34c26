# Copyright (c) OpenMMLab. All rights reserved.
"""Export a dcal_mm model's inference path to ONNX and check it with onnxruntime against PyTorch.

The graph takes normalised images (the model's data_preprocessor output: RGB float, mean/std applied; the values are
written to the file's metadata) with a dynamic batch axis, and returns what the model's predict gives: class
probabilities (`scores`, FGVC; for DCAL SA + rollout + top-R + GLCA by predict_mode) or the Re-ID feature (`features`).
The check runs another batch size than the export's, so the dynamic axis is exercised, and prints the maximum absolute
difference; the exit code is 1 if it exceeds --atol. Needs the `deploy` extra (onnx, onnxruntime).

Example:
    python tools/deployment/pytorch2onnx.py configs/dcal/demo_reid.py work_dirs/demo_reid/epoch_100.pth \\
        --output-file demo_reid.onnx
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

import dcal_mm  # noqa: E402,F401
from dcal_mm.apis import build_inference_model, model_input_size  # noqa: E402
from dcal_mm.apis.onnx_export import export_onnx, verify_onnx  # noqa: E402
from dcal_mm.utils.errors import install_excepthook  # noqa: E402
from dcal_mm.utils.progress import Stage  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Export a dcal_mm model to ONNX')
    parser.add_argument('config', help='config file or model name')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file (random weights without)')
    parser.add_argument('--output-file', required=True, help='the .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size; defaults to the backbone img_size / the test pipeline output')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--export-batch', type=int, default=2, help='batch size of the traced dummy input')
    parser.add_argument('--verify-batch', type=int, default=3, help='batch size of the onnxruntime check')
    parser.add_argument('--atol', type=float, default=1e-4, help='largest accepted absolute difference')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    install_excepthook()
    if not args.checkpoint:
        print(f'pytorch2onnx: WARNING: no checkpoint given: {args.output_file} gets RANDOM weights (metadata '
              'checkpoint="none (random weights)")', file=sys.stderr)
    model, _ = build_inference_model(args.config, args.checkpoint, 'cpu')
    shape = tuple(args.shape) if args.shape else model_input_size(model, 'pytorch2onnx')
    pre = model.data_preprocessor
    metadata = dict(input='normalised RGB images (B, 3, H, W), float32', input_size=json.dumps(shape),
                    mean=json.dumps(pre.mean.flatten().tolist() if getattr(pre, 'mean', None) is not None else None),
                    std=json.dumps(pre.std.flatten().tolist() if getattr(pre, 'std', None) is not None else None),
                    checkpoint=args.checkpoint or 'none (random weights)')
    classes = getattr(model, '_dataset_meta', {}).get('classes')
    if classes:
        metadata['classes'] = json.dumps(list(classes))
    with Stage(f'[1/2] exporting {args.output_file} (opset {args.opset}, batch {args.export_batch})'):
        kind = export_onnx(model, (args.export_batch, 3, *shape), args.output_file, args.opset, metadata)
    torch.manual_seed(args.seed)
    with Stage(f'[2/2] parity check: onnxruntime vs PyTorch on a batch of {args.verify_batch}'):
        diff = verify_onnx(model, args.output_file, torch.randn(args.verify_batch, 3, *shape), kind)
    print(f'{args.output_file}: {kind} of shape (batch, ...), onnxruntime vs PyTorch max abs difference {diff:.3g} '
          f'(batch {args.verify_batch}, exported at batch {args.export_batch})')
    if not diff <= args.atol:
        print(f'max abs difference {diff:.3g} exceeds --atol {args.atol}')
        sys.exit(1)


if __name__ == '__main__':
    main()
