# Tiny GLSim on the generated demo CUB data (python tools/misc/make_demo_data.py): trains on 2 CPU cores in minutes.
# A 6-block ViT (width 96, patch 8) from scratch on 64x64 crops (an 8x8 patch grid, O = 8 of 64 patches);
# the GLSim SGD schedule with a larger learning rate (no pretraining) and 40 epochs.
_base_ = [
    '../_base_/models/glsim_vit-b.py',
    '../_base_/datasets/demo_cub.py',
    '../_base_/schedules/glsim_sgd_50e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=96, num_layers=6, num_heads=3, patch_size=8), img_size=64, init_cfg=None),
    head=dict(num_classes=_base_.num_classes, in_channels=96),
)
max_epochs = 40
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=2))
