# DCAL in the paper's regime on the Re-ID demo set: fine-tuned from the project's pretrained demo backbone
# (python tools/misc/make_pretrained_demo.py -> pretrained/demo_vit.pth, pretrained at 64x64; its 8x8 position
# embedding is resized to this input's 8x4 grid), with the paper's structure: PWCA in every block (T = all), GLCA
# R = 30% starting from the pretrained last block, ID + soft-margin triplet per branch, dynamic loss weights,
# stochastic depth 0.1, test feature concat(SA, GLCA) before the BNNecks. Same data, model shape and input size as
# demo_reid.py.
# Fine-tuning schedule: the paper's (TransReID's) SGD recipe, _base_/schedules/reid_sgd_120e.py (momentum 0.9,
# lr 0.008 per 64 images -> 0.004 for this batch of 32, bias lr x2, weight decay 1e-4, 5 warm-up epochs from
# 0.01 x lr, cosine to 0.002 x lr), over 30 epochs of 9 iterations instead of 120 epochs.
_base_ = ['./demo_reid.py']
model = dict(
    backbone=dict(drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint='pretrained/demo_vit.pth')),
    pwca=dict(num_blocks=None, detach_partner=False),  # the paper's T and PWCA's default partner, as demo_*.py
)
max_epochs = 30
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.004, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, custom_keys={'loss_log_vars': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, end_factor=1.0, by_epoch=True, begin=0, end=6),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min_ratio=0.002, by_epoch=True, begin=0, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
