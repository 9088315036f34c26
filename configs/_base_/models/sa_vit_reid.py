# Re-ID SA baseline (TransReID's plain ViT: no SIE, no JPM, stride 16): the SA branch of DCAL with one BNNeck,
# ID (CE) + soft-margin triplet loss, pre-BN feature at test. DeiT-Tiny at 256x128 by default; leaves set arch,
# size and identities.
model = dict(
    type='DCAL',
    backbone=dict(type='DCALViT', arch='deit-tiny', img_size=(256, 128), drop_path_rate=0.1),
    head=dict(
        type='DCALReIDHead',
        num_classes=751,
        in_channels=192,
        with_glca=False,
        with_pwca=False,
        predict_mode='sa',
        neck_feat='before',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        loss_triplet=dict(type='TripletLoss', margin=None, loss_weight=1.0)),
)
