# DCAL, ViT-B, MSMT17 with intra- or inter-identity (1:1) PWCA partners (the paper's Table 4: 62.5 mAP; random
# partners 62.8). The 16 ids x 4 images batches (PKSampler) give every image both kinds of partner.
_base_ = ['./vit-b_msmt17.py']
model = dict(pwca=dict(partner_policy='mixed'))
