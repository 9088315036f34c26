# Tiny GLSim on the generated demo CUB data (python tools/misc/make_demo_data.py): a CPU smoke run of the whole
# pipeline (two passes, crop, aggregator, train.py/test.py), not an accuracy demo.
# A 4-block ViT (width 64, patch 8; the DCAL demo configs/dcal/demo_fgvc.py has since moved to width 96 and a
# convolutional stem) from scratch on 64x64 crops (an 8x8 patch grid, O = 8 of 64 patches), AdamW lr 1e-3, 2 warm-up
# epochs, cosine, 30 epochs (the GLSim SGD recipe is for fine-tuning a pretrained ViT). Measured on a shared 2-core
# CPU: ~3 min and 12% top-1 (chance 10%); from scratch the aggregator on top of the encoder learns far slower here
# than a plain ViT head (train loss still ~2.30 after 20 epochs where the plain ViT reached ~2.0). Use pretrained
# weights for more.
_base_ = [
    '../_base_/models/glsim_vit-b.py',
    '../_base_/datasets/demo_cub.py',
    '../_base_/schedules/glsim_sgd_50e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=2, patch_size=8), img_size=64, init_cfg=None),
    head=dict(num_classes=_base_.num_classes, in_channels=64),
)
max_epochs = 30
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=2, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=2))
