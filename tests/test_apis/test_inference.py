# Copyright (c) OpenMMLab. All rights reserved.
from types import SimpleNamespace

import pytest
from torch import nn

from dcal_mm.apis import model_input_size


def _model(**backbone_attrs):
    backbone = nn.Identity()
    for name, value in backbone_attrs.items():
        setattr(backbone, name, value)
    return SimpleNamespace(backbone=backbone)


def test_model_input_size_reads_the_backbone():
    assert model_input_size(_model(img_size=(448, 224)), 'tool') == (448, 224)  # ViTs: (H, W) as built
    assert model_input_size(_model(img_size=384), 'tool') == (384, 384)
    assert model_input_size(_model(input_size=[256, 128]), 'tool') == (256, 128)  # RGA
    # a backbone without a recorded size (a CNN): the error names the tool and what to pass
    with pytest.raises(ValueError, match=r'^get_flops: Identity does not record its input size; pass --shape H W$'):
        model_input_size(_model(), 'get_flops')
