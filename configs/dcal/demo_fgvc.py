# Tiny DCAL on the generated demo set (python tools/misc/make_demo_data.py): trains on 2 CPU cores in minutes.
# A 4-block ViT (width 64, patch 8) from scratch on 64x64 crops; classes differ only in a 12x12 head marker.
_base_ = [
    '../_base_/models/dcal_vit.py',
    '../_base_/datasets/demo_cub.py',
    '../_base_/schedules/fgvc_adamw_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=2, patch_size=8, conv_stem=[32, 64, 96]),
        img_size=64),
    head=dict(num_classes=10, in_channels=64),
)
max_epochs = 30
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=2, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(enable=False)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=2))
