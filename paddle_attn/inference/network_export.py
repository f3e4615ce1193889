"""A network's program exported once for Paddle Inference, its weights rewritten for each new runner: evaluation
every epoch of a training run without the memory every export keeps."""

import os
import tempfile

from paddle.base import core

from paddle_attn.errors import InferenceError
from paddle_attn.inference.paddle_inference import PaddleInferenceRunner
from paddle_attn.inference.write_export import save_program


class NetworkExport:
    """`net`'s program exported once; `export.runner(**kwargs)` writes the network's weights of now beside it and
    loads both into a new `PaddleInferenceRunner` (kwargs as `inference_config`).

    Why not `runner_for_network` each epoch: every `paddle.jit.save` keeps ~2 MB for good (resnet18_nam; Paddle
    3.3 leaks the Python call stack of each op it traces and interns its strings), while a predictor built
    and released from the same files keeps ~0.15 MB (malloc, in Paddle Inference's and oneDNN's C++). The files
    live in a temporary directory until the export is garbage-collected. Raises InferenceError if `net`'s
    state is not what its export saved.
    """

    def __init__(self, net, image_size):
        self.net = net
        self._dir = tempfile.TemporaryDirectory(prefix="paddle_attn_export_")
        self.program, self.params = save_program(net, os.path.join(self._dir.name, "inference"), image_size)
        written = os.path.join(self._dir.name, "check.pdiparams")
        self._write_weights(written)
        with open(written, "rb") as ours, open(self.params, "rb") as saved:
            if ours.read() != saved.read():
                raise InferenceError(
                    f"{type(net).__name__}'s state_dict is not the weights its export holds: "
                    "evaluate with device.eval_backend=dygraph"
                )
        os.remove(written)

    def runner(self, **kwargs):
        self._write_weights(self.params)
        return PaddleInferenceRunner(self.program, self.params, **kwargs)

    def _write_weights(self, path):
        # the .pdiparams format paddle.jit.save writes (paddle.static.pir_io.save_vars_pir): tensors sorted by name
        weights = {tensor.name: tensor for tensor in self.net.state_dict().values()}
        names = sorted(weights)
        core.save_combine_func([weights[n].value().get_tensor() for n in names], names, path, True, False, False)
