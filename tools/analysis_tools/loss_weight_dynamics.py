# Copyright (c) OpenMMLab. All rights reserved.
"""How far DCAL's dynamic loss weights can move under a recipe's optimiser, for a choice of lr multiplier.

``UncertaintyWeighting`` minimises 0.5 * (exp(-w) L + w) per branch, whose optimum is w* = log L. This replays
the FGVC recipe (AdamW, lr 5e-4 x batch / 512, cosine over 100 epochs, 375 iterations an epoch for CUB at a total
batch of 16) on the weight alone, with a branch loss that falls from 5.3 (chance on 200 classes) to 0.2, and
prints w at a few points beside w* for each multiplier.

Example:
    python tools/analysis_tools/loss_weight_dynamics.py --lr-mults 1 10 100
"""
import argparse
import math

import torch


def simulate(lr_mult: float, base_lr: float, iters: int, start_loss: float, end_loss: float) -> list:
    w = torch.zeros(1, requires_grad=True)
    optim = torch.optim.AdamW([w], lr=base_lr * lr_mult, weight_decay=0.)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=iters)
    rows = []
    for t in range(iters):
        loss_i = end_loss + (start_loss - end_loss) * math.exp(-5. * t / iters)  # falls fast, then flattens
        loss = 0.5 * (torch.exp(-w) * loss_i + w)
        optim.zero_grad()
        loss.sum().backward()
        optim.step()
        sched.step()
        if (t + 1) % (iters // 4) == 0:
            rows.append((t + 1, loss_i, math.log(loss_i), w.item()))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lr-mults', type=float, nargs='+', default=[1., 10., 100.])
    parser.add_argument('--base-lr', type=float, default=5e-4 * 16 / 512)
    parser.add_argument('--iters', type=int, default=100 * 375)
    args = parser.parse_args()
    print(f'AdamW lr {args.base_lr:.3g} x mult, cosine, {args.iters} iterations; branch loss 5.3 -> 0.2')
    print('| lr_mult | iteration | branch loss | optimum w* = log L | w |')
    print('|---|---|---|---|---|')
    for mult in args.lr_mults:
        for it, loss_i, w_star, w in simulate(mult, args.base_lr, args.iters, 5.3, 0.2):
            print(f'| {mult:g} | {it} | {loss_i:.2f} | {w_star:.2f} | {w:.2f} |')


if __name__ == '__main__':
    main()
