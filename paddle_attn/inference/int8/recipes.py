"""The int8 recipes: each writes a QDQ ONNX file (int8 weights per output channel, uint8 activations) of an fp32
ONNX file, calibrated on images, with the named convolutions left in fp32. OpenVINO runs either on its int8 kernels.

- "onnxruntime": ONNX Runtime's static quantizer, activation ranges at the 99.999th percentile, convolutions and
  matmuls only (gates, residual additions and pooling stay fp32).
- "nncf": OpenVINO's own quantizer (NNCF) on the ONNX graph, MIXED preset (symmetric weights, asymmetric
  activations), min-max activation ranges, full bias correction; its placement also quantizes the inputs of
  element-wise ops where OpenVINO fuses them.

Both leave the first convolution (3 input channels: little work, the most error per weight) and the classifier
in fp32; the NNCF variant without these three settings agreed on 81-89 % of the quick start's test images
(issue 21's spike), with them 98.8-99.4 %.
"""

import contextlib
import os
import sys
import tempfile

from paddle_attn.inference.backend_options import import_backend


def conv_names(graph):
    """The Conv nodes' names in topological order (the order paddle2onnx writes)."""
    return [node.name for node in graph.node if node.op_type == "Conv"]


def always_fp32(graph):
    """What every recipe leaves in fp32: the first convolution and the classifier."""
    return conv_names(graph)[:1] + [node.name for node in graph.node if node.op_type in ("MatMul", "Gemm")]


def calibration_stride(count, most=16):
    """The largest stride of at most `most` images that divides `count` (ONNX Runtime requires a divisor)."""
    return max(stride for stride in range(1, min(count, most) + 1) if count % stride == 0)


def onnxruntime_recipe(onnx_path, images, out_path, keep_fp32=()):
    """ONNX Runtime's quantizer; returns the fp32 graph it quantized (BatchNorm folded into the convolutions)."""
    import_backend("onnxruntime", "onnx")
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="int8_") as tmp, contextlib.redirect_stdout(sys.stderr):
        prepared = os.path.join(tmp, "prepared.onnx")
        # ONNX's own shape inference suffices; ONNX Runtime's symbolic one gives up on SE's gate, and then leaves
        # sym_shape_infer_temp.onnx in the working directory (the graph and weights come out the same either way)
        quant_pre_process(onnx_path, prepared, skip_symbolic_shape=True)
        model = onnx.load(prepared)
        name = model.graph.input[0].name

        class Batches(CalibrationDataReader):
            """One image per batch (the percentile calibrator cannot stack batches of two sizes), read in strides."""

            def __init__(self):
                self.set_range(0, len(images))

            def __len__(self):
                return len(images)

            def set_range(self, start_index, end_index):
                self.batches = iter([{name: images[i : i + 1]} for i in range(start_index, end_index)])

            def get_next(self):
                return next(self.batches, None)

        quantize_static(
            prepared,
            out_path,
            Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "MatMul"],
            nodes_to_exclude=always_fp32(model.graph) + list(keep_fp32),
            calibrate_method=CalibrationMethod.Percentile,
            # histograms merged stride by stride: all images' activations at once took ~28 MiB an image
            # (resnet50_nam, 32 px) and ran out of memory at 300 images
            extra_options={"CalibStridedMinMax": calibration_stride(len(images))},
        )
    return model


def nncf_recipe(onnx_path, images, out_path, keep_fp32=()):
    """NNCF's quantizer on the ONNX graph; returns the fp32 graph it quantized."""
    import_backend("onnxruntime", "onnx")
    nncf = import_backend("nncf", "int8")  # optional: nncf, OpenVINO's quantizer
    import onnx
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    model = onnx.load(onnx_path)
    name = model.graph.input[0].name
    # one image per item: NNCF's statistics collection is written for batch 1
    dataset = nncf.Dataset([images[i : i + 1] for i in range(len(images))], lambda x: {name: x})
    advanced = AdvancedQuantizationParameters()
    advanced.activations_range_estimator_params = RangeEstimatorParametersSet.MINMAX
    with contextlib.redirect_stdout(sys.stderr):
        quantized = nncf.quantize(
            model,
            dataset,
            preset=nncf.QuantizationPreset.MIXED,
            target_device=nncf.TargetDevice.CPU,
            subset_size=len(images),
            fast_bias_correction=False,
            ignored_scope=nncf.IgnoredScope(names=always_fp32(model.graph) + list(keep_fp32)),
            advanced_parameters=advanced,
        )
    onnx.save(quantized, out_path)
    return model


RECIPES = {"onnxruntime": onnxruntime_recipe, "nncf": nncf_recipe}
