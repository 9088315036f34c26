# Tiny DCAL Re-ID on the generated demo Market-1501 set (python tools/misc/make_demo_data.py): 64x32 images, 40 train
# ids, P x K = 8 x 4. A 4-block ViT from scratch (width 96, 3 heads; a 3-convolution stem of stride 8 -> 8x4 = 32
# tokens; GLCA R = 30% -> 9 local queries) with SA + GLCA + PWCA, ID + soft-margin triplet per branch, dynamic loss
# weights; 100 epochs of 9 iterations.
# PWCA in every block (the paper's T) with the paper's random partners and the partner's gradient (PWCA's default):
# with the last release's detached partner this tiny model collapsed from scratch under PWCA in every block and the
# demo used T = 1; with the gradient it no longer does (README, "Ablation on the demo sets").
_base_ = [
    '../_base_/models/dcal_reid.py',
    '../_base_/datasets/demo_market.py',
    '../_base_/schedules/reid_sgd_120e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=96, num_layers=4, num_heads=3, patch_size=8, conv_stem=[32, 64, 128]),
        img_size=_base_.img_size,
        drop_path_rate=0.),  # tiny model, short schedule: no stochastic depth
    head=dict(num_classes=_base_.num_ids, in_channels=96),
)
max_epochs = 100
# from scratch a tiny ViT learns much faster with AdamW than with the recipe's SGD
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=0.05),
    paramwise_cfg=dict(_delete_=True, custom_keys={'loss_log_vars': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=3, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(enable=False)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
