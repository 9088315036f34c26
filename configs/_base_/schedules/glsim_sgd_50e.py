# GLSim recipe (official code defaults): SGD momentum 0.9, lr 0.01 for batch 8, no weight decay,
# gradient-norm clipping at 1.0, 50 epochs; per-iteration cosine decay to 1e-5 with 500 linear warm-up
# iterations from 1e-6. The official code trains with fp16 AMP: add --amp to tools/train.py.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0, nesterov=False),
    clip_grad=dict(max_norm=1.0, norm_type=2),
)

# The warm-up overlaps the start of the cosine, as timm's CosineLRScheduler(warmup_t=500) used by GLSim.
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=0, end=50, convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# lr above is for a total batch of 8; use --auto-scale-lr for other batch sizes
auto_scale_lr = dict(base_batch_size=8)
