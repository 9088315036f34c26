# SA baseline of demo_fgvc_finetune.py: the same pretrained ViT and fine-tuning schedule, without GLCA and PWCA.
_base_ = ['./demo_fgvc_finetune.py']
model = dict(glca=None, pwca=None, head=dict(with_glca=False, with_pwca=False, predict_mode='sa'))
