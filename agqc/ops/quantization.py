"""Quantisation in generated code: fake-quantised layers for training, packed layers for deployment.

Takes nothing; adds ``HELPERS["quantization"]``: the Python source that a
generated file defines when a layer runs at fp8, int8, int4 or binary.

- Training (QAT): ``QuantLinear``, ``QuantConv1d``, ``QuantConv2d``,
  ``QuantConvTranspose2d`` and ``QuantEmbedding`` keep an fp32 weight and use
  its quantised value in ``forward`` (straight-through gradients): symmetric
  per output channel for int8 (levels -127..127) and int4 (-7..7); a
  per-channel scale into fp8's range for fp8 (e4m3 or e5m2); sign(w)·alpha
  with alpha the mean |w| of the channel for binary, gradients clipped to
  |w| <= 1.  With ``activations=True`` the layer's input is quantised too,
  with one scale per example (binary: sign(x), clipped straight-through).
- Deployment: ``deploy(model)`` replaces each such weight, in place, by
  its stored form: int8 values, int4 values two per byte, binary bits eight
  per byte, or fp8 values, plus the scales.  Unpacking gives exactly the
  values training used, so the deployed model predicts the same.
"""
from __future__ import annotations

from .helpers import HELPERS

HELPERS["quantization"] = '''
def _channel_absmax(w, axis):
    dims = [d for d in range(w.dim()) if d != axis]
    return w.detach().abs().amax(dim=dims, keepdim=True) if dims else w.detach().abs()


def _binary_alpha(w, axis):
    dims = [d for d in range(w.dim()) if d != axis]
    alpha = w.detach().abs().mean(dim=dims, keepdim=True) if dims else w.detach().abs()
    return alpha.half().float()  # deployment stores alpha in fp16: training uses the same value


def _fp8_dtype(precision):
    return torch.float8_e5m2 if precision == "fp8_e5m2" else torch.float8_e4m3fn


def _levels(precision):
    return {"int8": 127, "int4": 7}[precision]


def _quantize_to_codes(w, precision, axis):
    """(codes, scale): what deployment stores; codes * scale is what training computes with."""
    if precision == "binary":
        return torch.where(w >= 0, 1.0, -1.0), _binary_alpha(w, axis)
    if precision.startswith("fp8"):
        dtype = _fp8_dtype(precision)
        scale = _channel_absmax(w, axis).clamp(min=1e-12) / torch.finfo(dtype).max
        return (w.detach() / scale).to(dtype), scale
    levels = _levels(precision)
    scale = _channel_absmax(w, axis).clamp(min=1e-12) / levels
    return (w.detach() / scale).round().clamp(-levels, levels), scale


def quantize_weight(w, precision, axis=0):
    """The weight's quantised value in the forward pass, straight-through in the backward pass."""
    codes, scale = _quantize_to_codes(w, precision, axis)
    value = codes.to(w.dtype) * scale
    if precision == "binary":  # clipped straight-through: no gradient where |w| > 1
        clipped = w.clamp(-1, 1)
        return clipped + (value - clipped).detach()
    return w + (value - w).detach()


def quantize_activation(x, precision):
    """One scale per example's tensor (binary: the sign), straight-through gradients.

    The scale is taken over all of one example's values, not the batch's, so a
    prediction does not depend on what else is in the batch.
    """
    if precision == "binary":
        clipped = x.clamp(-1, 1)
        return clipped + (torch.where(x >= 0, 1.0, -1.0).to(x.dtype) - clipped).detach()
    flat = x.reshape(x.shape[0], -1) if x.dim() > 1 else x.reshape(1, -1)
    return quantize_weight(flat, precision, axis=0).reshape(x.shape)


def layer_weight(layer):
    """A quantised layer's weight as used in forward: from the fp32 master copy, or unpacked."""
    if hasattr(layer, "packed"):
        return unpack_weight(layer)
    return quantize_weight(layer.weight, layer.precision, layer.weight_axis)


class Quantised:
    """Mixin for the layers below: their precision, and whether their input is quantised too."""

    def __init__(self, *args, precision, activations=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision, self.activations = precision, activations

    def quantised_input(self, x):
        return quantize_activation(x, self.precision) if self.activations else x


class QuantLinear(Quantised, nn.Linear):
    weight_axis = 0

    def forward(self, x):
        return F.linear(self.quantised_input(x), layer_weight(self), self.bias)


class QuantConv1d(Quantised, nn.Conv1d):
    weight_axis = 0

    def forward(self, x):
        return self._conv_forward(self.quantised_input(x), layer_weight(self), self.bias)


class QuantConv2d(Quantised, nn.Conv2d):
    weight_axis = 0

    def forward(self, x):
        return self._conv_forward(self.quantised_input(x), layer_weight(self), self.bias)


class QuantConvTranspose2d(Quantised, nn.ConvTranspose2d):
    weight_axis = 1  # the weight is [in, out, k, k]: output channels are axis 1

    def forward(self, x):
        return F.conv_transpose2d(self.quantised_input(x), layer_weight(self), self.bias, self.stride,
                                  self.padding, self.output_padding, self.groups, self.dilation)


class QuantEmbedding(Quantised, nn.Embedding):
    weight_axis = 0  # one scale per table row

    def forward(self, ids):
        return F.embedding(ids, layer_weight(self))


def _pack_bits(bits):
    """0/1 values -> bytes, eight per byte, first value in the highest bit."""
    flat = bits.flatten().to(torch.uint8)
    flat = F.pad(flat, (0, -flat.numel() % 8)).reshape(-1, 8)
    weights = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8, device=flat.device)
    return (flat * weights).sum(dim=1, dtype=torch.uint8)


def _unpack_bits(packed, count):
    shifts = torch.arange(7, -1, -1, device=packed.device, dtype=torch.uint8)
    return ((packed[:, None] >> shifts) & 1).flatten()[:count]


def pack_weight(w, precision, axis):
    """(packed, scale): the stored form of a weight."""
    codes, scale = _quantize_to_codes(w.detach(), precision, axis)
    if precision == "binary":
        return _pack_bits(codes > 0), scale.half()
    if precision == "int8":
        return codes.to(torch.int8), scale
    if precision == "int4":  # two values per byte: low nibble first, stored as value + 8
        nibbles = F.pad((codes.flatten() + 8).to(torch.uint8), (0, codes.numel() % 2))
        return nibbles[0::2] | (nibbles[1::2] << 4), scale
    return codes, scale  # fp8 values are one byte each already


def unpack_weight(layer):
    shape, precision, packed = layer.weight_shape, layer.precision, layer.packed
    count = 1
    for size in shape:
        count *= size
    if precision == "binary":
        codes = _unpack_bits(packed, count).float() * 2 - 1
        return codes.reshape(shape) * layer.scale.float()
    if precision == "int4":
        nibbles = torch.stack((packed & 15, packed >> 4), dim=1).flatten()[:count]
        return (nibbles.float() - 8).reshape(shape) * layer.scale
    return packed.float().reshape(shape) * layer.scale


def deploy(model):
    """Store every quantised layer's weight in its low-precision form, in place; returns the model.

    The fp32 master weights are dropped: what remains is the packed values and the
    scales, and forward unpacks them to exactly the values training used.
    """
    for layer in model.modules():
        if hasattr(layer, "weight_axis") and isinstance(layer.weight, nn.Parameter):
            packed, scale = pack_weight(layer.weight, layer.precision, layer.weight_axis)
            layer.weight_shape = tuple(layer.weight.shape)
            del layer.weight
            layer.register_parameter("weight", None)
            layer.register_buffer("packed", packed)
            layer.register_buffer("scale", scale)
    return model
'''
