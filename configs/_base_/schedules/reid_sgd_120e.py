# TransReID / DCAL Re-ID recipe: SGD momentum 0.9, lr 0.008 for a batch of 64, weight decay 1e-4, bias lr x2;
# per epoch: linear warm-up over 5 epochs from 0.01 x lr, cosine over the 120 epochs down to 0.002 x lr.
# The two schedulers are chained (they multiply), which reproduces TransReID's timm
# CosineLRScheduler(t_initial=120, warmup_t=5, warmup_lr_init=0.01 lr, lr_min=0.002 lr, warmup_prefix=False)
# to within 0.3% at every epoch: epoch e < 5 gets (0.01 + 0.198 e) x cos-factor(e) instead of (0.01 + 0.198 e),
# and from epoch 5 on the plain cosine of the full 120-epoch period. mmengine's LinearLR reaches end_factor at
# step end - 1, hence end=6 for factors 0.01, 0.208, ..., 1.0 at epochs 0..5.
# Other differences: the floor and warm-up start are ratios of each group's own lr (bias groups: 2x), and
# bias_lr_mult skips normalisation layers' biases (TransReID doubles every parameter named '*bias*').
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.008, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(
        bias_lr_mult=2.0,
        # dynamic loss weights (UncertaintyWeighting) get no weight decay; at SGD lr 0.008 they move freely
        # (|dL/dw| ~ 0.5 at the start), so no lr multiplier here, unlike the AdamW FGVC recipe
        custom_keys={'loss_log_vars': dict(decay_mult=0.0)}),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, end_factor=1.0, by_epoch=True, begin=0, end=6),
    dict(type='CosineAnnealingLR', T_max=120, eta_min_ratio=0.002, by_epoch=True, begin=0, end=120),
]
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=10)
val_cfg = dict()
test_cfg = dict()
# lr above is for one batch of 64 (16 ids x 4 images); enable to scale it to world_size x batch_size
auto_scale_lr = dict(base_batch_size=64)
