# DCAL for Re-ID: SA + GLCA (R = 30% for Re-ID) + PWCA (T = all blocks, training only); ID + triplet per branch,
# dynamic loss weights; test feature = concat(SA, GLCA class tokens) before the BNs.
_base_ = ['./sa_vit_reid.py']
model = dict(
    glca=dict(type='GLCA', top_ratio=0.3),
    pwca=dict(type='PWCA'),
    head=dict(with_glca=True, with_pwca=True, predict_mode='concat', loss_weighting='dynamic'),
)
