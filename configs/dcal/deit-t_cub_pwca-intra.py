# DCAL, DeiT-Tiny, CUB-200-2011 at 448x448 with intra-class PWCA partners (the paper's Table 4: 81.7 top-1, random
# partners 83.1). Batches of 8 classes x 2 images (PairSampler), so that every image has a same-class partner.
_base_ = ['./deit-t_cub.py']
model = dict(pwca=dict(partner_policy='intra'))
train_dataloader = dict(
    sampler=dict(_delete_=True, type='PairSampler', num_classes=8, num_instances=2),
    batch_sampler=dict(type='PKBatchSampler'))
