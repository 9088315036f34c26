# CLAN's recipe is not published; this is the usual one of the CNN FGVC papers
# it compares with: SGD (momentum 0.9, weight decay 5e-4), learning rate 0.002
# for the pretrained backbone and 10x (0.02) for the new CLAN layers and
# classifiers, total batch 16, 5 warm-up epochs then cosine decay, 100 epochs.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=5e-4, nesterov=False),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}),
)

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=100, convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# The learning rates above are for a total batch of 16; use --auto-scale-lr for others.
auto_scale_lr = dict(base_batch_size=16)
