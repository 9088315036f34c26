# Copyright (c) OpenMMLab. All rights reserved.
"""FLOPs of a dcal_mm model's real inference path and of its training step (PyTorch's FlopCounterMode).

MMPretrain's get_flops counts the backbone only, which misses DCAL's rollout and GLCA, GLSim's second pass and
aggregator, and the heads. Here:

- inference: ``predict``'s path for one image (the ONNX export's: for DCAL SA + rollout + top-R + GLCA + classifiers,
  or the Re-ID feature), with the backbone alone (what MMPretrain's tool reports) beside it;
- training step: ``model.loss`` forward and backward on one batch of the config's train dataloader (with DCAL's PWCA
  branch and whatever the data pipeline pairs), per image. Needs the training data on disk; ``--no-train`` skips it.

FLOPs count a multiply-add as 2 (PyTorch's convention; fvcore/mmengine count it as 1). Elementwise ops are not counted.
PyTorch's counter has no formula for the CPU kernel of scaled_dot_product_attention (it counts 0 there); this tool adds
PyTorch's own SDPA formulas for it, so fused and explicit attention count the same.

Example:
    python tools/analysis_tools/get_flops.py configs/dcal/deit-t_cub.py --no-train
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from torch.utils import flop_counter  # noqa: E402

import dcal_mm  # noqa: E402,F401
from dcal_mm.apis import build_inference_model, model_input_size  # noqa: E402
from dcal_mm.apis.onnx_export import InferencePath, output_kind  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='FLOPs of the inference path and the training step')
    parser.add_argument('config', help='config file or model name')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'), help='input size (default: the model\'s)')
    parser.add_argument('--no-train', action='store_true', help='skip the training step (needs no data)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def _sdpa_cpu(query, key, value, *args, out_shape=None, **kwargs):
    return flop_counter.sdpa_flop_count(query, key, value)


def _sdpa_cpu_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs):
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


def _cpu_sdpa_formulas() -> dict:
    """SDPA formulas for the CPU kernels, which PyTorch's registry lacks."""
    ops = {'_scaled_dot_product_flash_attention_for_cpu': _sdpa_cpu,
           '_scaled_dot_product_flash_attention_for_cpu_backward': _sdpa_cpu_backward}
    return {getattr(torch.ops.aten, name): fn for name, fn in ops.items() if hasattr(torch.ops.aten, name)}


def count_flops(fn, *args) -> int:
    """FLOPs of ``fn(*args)`` (forward, and backward if ``fn`` runs one)."""
    with flop_counter.FlopCounterMode(display=False, custom_mapping=_cpu_sdpa_formulas()) as counter:
        fn(*args)
    return counter.get_total_flops()


def inference_flops(model, shape):
    """(whole predict path, backbone only) FLOPs for one image of ``shape`` (H, W)."""
    x = torch.randn(1, 3, *shape)
    path = InferencePath(model, output_kind(model, x)).eval()
    with torch.no_grad():
        return count_flops(path, x), count_flops(model.extract_feat, x, 'backbone')


def train_step_flops(model, cfg):
    """FLOPs of forward + backward of ``model.loss`` on the first train batch, and the batch size."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    batch = next(iter(Runner.build_dataloader(loader_cfg, seed=0)))
    model.train()
    data = model.data_preprocessor(batch, True)

    def step(data):
        losses = model.loss(data['inputs'], data['data_samples'])
        model.parse_losses(losses)[0].backward()

    flops = count_flops(step, data)
    model.eval()
    return flops, len(data['data_samples'])


def main():
    args = parse_args()
    model, _ = build_inference_model(args.config, None, 'cpu', args.cfg_options)
    cfg = model._config
    shape = tuple(args.shape) if args.shape else model_input_size(model, 'get_flops')
    total, backbone = inference_flops(model, shape)
    params = sum(p.numel() for p in model.parameters())
    print(f'{args.config}: input 3x{shape[0]}x{shape[1]}, {params / 1e6:.3f} M parameters')
    print(f'inference (predict path): {total / 1e9:.4f} GFLOPs per image')
    print(f'  backbone only (what MMPretrain\'s get_flops counts): {backbone / 1e9:.4f} GFLOPs '
          f'({100 * backbone / total:.1f}%)')
    if not args.no_train:
        flops, batch = train_step_flops(model, cfg)
        print(f'training step (forward + backward, batch {batch}): {flops / batch / 1e9:.4f} GFLOPs per image, '
              f'{flops / batch / total:.2f}x inference')


if __name__ == '__main__':
    main()
