# SA baseline: the plain ViT branch of DCAL (DeiT-Tiny at 448 by default; leaves set arch, size, classes)
model = dict(
    type='DCAL',
    backbone=dict(type='DCALViT', arch='deit-tiny', img_size=448, drop_path_rate=0.1),
    head=dict(
        type='DCALClsHead',
        num_classes=200,
        in_channels=192,
        with_glca=False,
        with_pwca=False,
        predict_mode='sa',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
