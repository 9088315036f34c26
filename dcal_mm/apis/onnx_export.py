# Copyright (c) OpenMMLab. All rights reserved.
"""Export the inference path of a dcal_mm classifier to ONNX and check it
with onnxruntime against PyTorch."""
import warnings
from contextlib import contextmanager
from typing import Dict, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class InferencePath(nn.Module):
    """A classifier's ``predict`` as one tensor function of the normalised
    images (what the model's ``data_preprocessor`` gives), for export.

    ``'feature'`` models (Re-ID heads) return the ``pred_feature`` s (B, D):
    ``extract_feat(stage='pre_logits')``. ``'scores'`` models return the
    ``pred_score`` s (B, num_classes): the head's ``predict_scores`` (DCAL),
    ``combine_scores`` of its logits (CLAN) or the softmax of its logits
    (MMPretrain heads, e.g. GLSim's).

    Args:
        model (nn.Module): A dcal_mm / MMPretrain classifier in eval mode.
        kind (str): ``'feature'`` or ``'scores'``; see :func:`output_kind`.
    """

    def __init__(self, model: nn.Module, kind: str) -> None:
        super().__init__()
        if kind not in ('feature', 'scores'):
            raise ValueError(f"InferencePath kind must be 'feature' or 'scores', got {kind!r}")
        self.model = model
        self.kind = kind

    def forward(self, inputs: Tensor) -> Tensor:
        """(B, 3, H, W) normalised images -> features or class scores."""
        if self.kind == 'feature':
            return self.model.extract_feat(inputs, stage='pre_logits')
        head = self.model.head
        feats = self.model.extract_feat(inputs)
        if hasattr(head, 'predict_scores'):
            return head.predict_scores(feats)
        if hasattr(head, 'combine_scores'):
            return head.combine_scores(head(feats))
        return F.softmax(head(feats), dim=1)


def output_kind(model: nn.Module, inputs: Tensor) -> str:
    """``'feature'`` if the model's ``predict`` sets ``pred_feature`` (Re-ID),
    ``'scores'`` if it sets ``pred_score``."""
    with torch.no_grad():
        sample = model.predict(inputs)[0]
    if 'pred_feature' in sample:
        return 'feature'
    if 'pred_score' in sample:
        return 'scores'
    raise ValueError(f'{type(model).__name__}.predict sets neither pred_feature nor pred_score')


def predict_outputs(model: nn.Module, inputs: Tensor, kind: str) -> Tensor:
    """The reference: the model's own ``predict`` outputs, stacked."""
    with torch.no_grad():
        samples = model.predict(inputs)
    return torch.stack([s.pred_feature if kind == 'feature' else s.pred_score for s in samples])


def _softmax_symbolic(g, inputs, dim, dtype=None, out=None):
    """``aten::softmax`` with or without ``out=`` (the in-place softmax of our
    attention layer), which the TorchScript exporter's own symbolic rejects."""
    from torch.onnx import symbolic_helper
    result = g.op('Softmax', inputs, axis_i=symbolic_helper._get_const(dim, 'i', 'dim'))
    if dtype is not None and not symbolic_helper._is_none(dtype):
        raise ValueError('export_onnx: softmax with a dtype argument is not supported')
    return result


@contextmanager
def _softmax_with_out(opset: int):
    torch.onnx.register_custom_op_symbolic('aten::softmax', _softmax_symbolic, opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic('aten::softmax', opset)


def export_onnx(model: nn.Module, input_shape: Tuple[int, int, int, int], output_file: str, opset: int = 17,
                metadata: Dict[str, str] = None) -> str:
    """Export with a dynamic batch axis (input ``images``, output
    ``features`` or ``scores``).

    Args:
        model (nn.Module): The classifier, eval mode, on the CPU.
        input_shape (tuple): (B, 3, H, W) of the dummy input.
        output_file (str): The ``.onnx`` file.
        opset (int): ONNX opset. Defaults to 17.
        metadata (dict[str, str], optional): Written as the model's
            ``metadata_props`` (e.g. normalisation, class names).

    Returns:
        str: The output kind, ``'feature'`` or ``'scores'``.
    """
    import onnx
    dummy = torch.randn(*input_shape)
    kind = output_kind(model, dummy)
    output = 'features' if kind == 'feature' else 'scores'
    with torch.no_grad(), _softmax_with_out(opset), warnings.catch_warnings():
        # shape checks in the models are constants of the trace (expected), and the TorchScript exporter is deprecated
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(
            InferencePath(model, kind).eval(), (dummy, ),
            output_file,
            input_names=['images'],
            output_names=[output],
            dynamic_axes={'images': {0: 'batch'}, output: {0: 'batch'}},
            opset_version=opset,
            dynamo=False)  # the TorchScript exporter needs only `onnx` (torch.export's needs onnxscript)
    onnx_model = onnx.load(output_file)
    for key, value in (metadata or {}).items():
        onnx_model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, output_file)
    return kind


def verify_onnx(model: nn.Module, output_file: str, inputs: Tensor, kind: str) -> float:
    """Run the ONNX file with onnxruntime (CPU) and compare it with the
    model's ``predict``.

    Args:
        model (nn.Module): The PyTorch model.
        output_file (str): The exported file.
        inputs (Tensor): Normalised images (B, 3, H, W).
        kind (str): ``'feature'`` or ``'scores'``.

    Returns:
        float: The maximum absolute difference.
    """
    import onnxruntime as ort
    session = ort.InferenceSession(output_file, providers=['CPUExecutionProvider'])
    got = session.run(None, {'images': inputs.numpy().astype(np.float32)})[0]
    expected = predict_outputs(model, inputs, kind).numpy()
    if got.shape != expected.shape:
        raise ValueError(f'{output_file}: onnxruntime output shape {got.shape} != PyTorch {expected.shape}')
    return float(np.abs(got - expected).max())
