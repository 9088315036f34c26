# DCAL: SA + GLCA (R = 10% for FGVC) + PWCA (T = all 12 blocks, training only), dynamic loss weights
_base_ = ['./sa_vit.py']
model = dict(
    glca=dict(type='GLCA', top_ratio=0.1),
    pwca=dict(type='PWCA'),
    head=dict(with_glca=True, with_pwca=True, predict_mode='sum', loss_weighting='dynamic'),
)
