# Tiny DCAL Re-ID on the generated demo Market-1501 set (python tools/misc/make_demo_data.py): 64x32 images, 40 train
# ids, P x K = 8 x 4. A 4-block ViT from scratch (width 96, 3 heads; a 3-convolution stem of stride 8 -> 8x4 = 32
# tokens; GLCA R = 30% -> 9 local queries) with SA + GLCA + PWCA, ID + soft-margin triplet per branch, dynamic loss
# weights; 100 epochs of 9 iterations.
# PWCA runs in the first block only (T = 1; the paper's T = 12 is all blocks), with the paper's random partners:
# trained from scratch, this tiny model collapses under PWCA in every block (SA + PWCA: mAP 14 at 60 epochs, SA
# alone 75; whole DCAL 42, with T = 1 76; README, "Demos").
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
    # the partner's keys/values detached, as in every from-scratch figure of the README (the last release's
    # behaviour); PWCA's default is now a partner with gradient (README, "Ablation after pretraining")
    pwca=dict(num_blocks=1, detach_partner=True),
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
