# DCAL, DeiT-Tiny, CUB-200-2011 with inter-class PWCA partners on the same 8 x 2 batches (Table 4: 83.0 top-1).
_base_ = ['./deit-t_cub_pwca-intra.py']
model = dict(pwca=dict(partner_policy='inter'))
