# GLSim, ViT-B/16 (ImageNet-21k), CUB-200-2011 at 448x448, official recipe (paper figure: 92.09 top-1 at 448).
# The 14x14 position embedding is resampled to 28x28 when the pretrained weights are loaded, by linear interpolation
# as the official code (pos_embed_interp='linear' in the base model; timm and the DCAL configs use bicubic).
_base_ = [
    '../_base_/models/glsim_vit-b.py',
    '../_base_/datasets/cub_glsim_448.py',
    '../_base_/schedules/glsim_sgd_50e.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(img_size=448), head=dict(num_classes=200))
