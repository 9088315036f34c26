# GLSim, ViT-B/16 (ImageNet-21k), CUB-200-2011 at 224x224, official recipe (paper Table 4: 90.93 +- 0.24 top-1).
# SGD lr 0.01, batch 8, 50 epochs, cosine with 500 warm-up iterations, label smoothing 0.1, TrivialAugmentWide +
# random erasing, stochastic depth 0.1; O = 8, the official crop box. The official code trains with fp16 AMP:
#   python tools/train.py configs/glsim/glsim_vit-b_cub-224.py --amp
_base_ = [
    '../_base_/models/glsim_vit-b.py',
    '../_base_/datasets/cub_glsim_224.py',
    '../_base_/schedules/glsim_sgd_50e.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(img_size=224), head=dict(num_classes=200))
