# DCAL, DeiT-Tiny, CUB-200-2011 with intra- or inter-class PWCA partners 1:1 on the same 8 x 2 batches (Table 4:
# 83.0 top-1).
_base_ = ['./deit-t_cub_pwca-intra.py']
model = dict(pwca=dict(partner_policy='mixed'))
