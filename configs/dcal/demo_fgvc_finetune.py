# DCAL in the paper's regime on the FGVC demo set: fine-tuned from the project's pretrained demo backbone
# (python tools/misc/make_pretrained_demo.py -> pretrained/demo_vit.pth, a plain ViT classifier pretrained on a
# generated corpus disjoint from the demo sets), with the paper's structure: PWCA in every block (T = all), GLCA
# R = 10% starting from the pretrained last block, dynamic loss weights, stochastic depth 0.1, sum of the SA and
# GLCA probabilities at test. Same data, model shape and input size as demo_fgvc.py.
# Fine-tuning schedule (our choice; the paper's lr of 5e-4 x batch / 512 over 100 epochs is for ImageNet-scale
# pretraining): AdamW lr 5e-4, a 1-epoch warm-up, cosine over 10 epochs, gradient-norm clipping 1.0.
_base_ = ['./demo_fgvc.py']
model = dict(
    backbone=dict(drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint='pretrained/demo_vit.pth')),
    pwca=dict(num_blocks=None, detach_partner=False),  # the paper's T and PWCA's default partner, as demo_*.py
)
max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
