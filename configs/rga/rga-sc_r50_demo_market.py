# RGA-SC smoke test on the generated demo Market-1501 set (64x32 images; make it with
# dcal_mm.datasets.make_demo_market1501('data/demo')): the official recipe with the RGA modules built for 64x32,
# a randomly initialised ResNet-50, the demo base's augmentation and a few iterations. Trains on a CPU in minutes.
_base_ = [
    '../_base_/datasets/demo_market.py',
    '../_base_/default_runtime.py',
    './_rga-sc_r50_recipe.py',
]
model = dict(
    backbone=dict(height=_base_.img_size[0], width=_base_.img_size[1], init_cfg=None),
    head=dict(num_classes=_base_.num_ids))
max_iters = 8
param_scheduler = [dict(type='LinearLR', start_factor=0.1, end_factor=1.0, by_epoch=False, begin=0, end=4)]
train_cfg = dict(_delete_=True, by_epoch=False, max_iters=max_iters, val_interval=max_iters)
auto_scale_lr = dict(enable=False)
train_dataloader = dict(sampler=dict(epoch_mode='identities'))  # the recipe's epoch (P = 8 of the demo base)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1, save_best=None))
log_processor = dict(by_epoch=False)
