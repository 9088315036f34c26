# Pretraining of the demos' backbone on the generated corpus (tools/misc/make_pretrained_demo.py makes the corpus,
# runs this config and writes pretrained/demo_vit.pth). The paper fine-tunes ImageNet-pretrained ViTs; nothing is
# downloaded here, so the demo backbone (the 4-block ViT of demo_fgvc.py / demo_reid.py: width 96, 3 heads,
# conv stem of stride 8, 64x64 -> 8x8 tokens) is pretrained as a plain classifier: the SA baseline of DCAL (no
# GLCA, no PWCA), a linear head over the 128 corpus classes, label smoothing, AdamW with a warm-up and cosine decay.
_base_ = [
    '../_base_/models/sa_vit.py',
    '../_base_/datasets/demo_pretrain.py',
    '../_base_/schedules/fgvc_adamw_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=96, num_layers=4, num_heads=3, patch_size=8, conv_stem=[32, 64, 128]),
        img_size=64,
        drop_path_rate=0.),  # tiny model, short schedule: no stochastic depth
    head=dict(
        num_classes=_base_.num_classes,
        in_channels=96,
        loss=dict(_delete_=True, type='LabelSmoothLoss', label_smooth_val=0.1, mode='original', loss_weight=1.0)),
)
max_epochs = 10
# lr 1e-3 for batch 64 with gradient-norm clipping at 1.0, as the FGVC demo; a 1-epoch linear warm-up
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(enable=False)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
