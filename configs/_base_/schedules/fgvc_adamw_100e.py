# DCAL FGVC recipe: AdamW wd 0.05, lr 5e-4 x batch / 512 (auto_scale_lr, enabled), cosine decay, 100 epochs.
# No warm-up: the paper names none.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
            # dynamic loss weights: no weight decay, and 100x the lr, or at lr ~1.6e-5 they barely move from 0
            # (python tools/analysis_tools/loss_weight_dynamics.py: x1 ends at w=0.01, x100 tracks log L to -1.43
            # of -1.45; our choice, the paper gives no optimiser setting for them)
            'loss_log_vars': dict(decay_mult=0.0, lr_mult=100.0),
        }),
)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=1e-7, by_epoch=True, begin=0, end=100, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# lr above is for a total batch of 512 and is scaled to world_size x batch_size
auto_scale_lr = dict(base_batch_size=512, enable=True)
