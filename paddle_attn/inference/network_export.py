"""A network's program exported once for Paddle Inference, its weights rewritten for each new runner: evaluation
every epoch of a training run without the memory every export keeps."""

import filecmp
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
    and released from the same files keeps ~0.15 MB (malloc, in Paddle Inference's and oneDNN's C++). The program
    is kept in memory; its files exist only while a runner loads them. Raises InferenceError if `net`'s
    state is not what its export saved.
    """

    def __init__(self, net, image_size):
        self.net = net
        with tempfile.TemporaryDirectory(prefix="paddle_attn_export_") as folder:
            program, params = save_program(net, os.path.join(folder, "inference"), image_size)
            written = os.path.join(folder, "check.pdiparams")
            self._write_weights(written)
            if not filecmp.cmp(written, params, shallow=False):
                raise InferenceError(
                    f"{type(net).__name__}'s state_dict is not the weights its export holds: "
                    "evaluate with device.eval_backend=dygraph"
                )
            with open(program, "rb") as file:
                self._program = file.read()
        self._program_name = os.path.basename(program)

    def runner(self, **kwargs):
        # the predictor reads its files when it is built: they exist only that long, so a killed run leaves none
        with tempfile.TemporaryDirectory(prefix="paddle_attn_export_") as folder:
            program = os.path.join(folder, self._program_name)
            with open(program, "wb") as file:
                file.write(self._program)
            params = os.path.join(folder, "inference.pdiparams")
            self._write_weights(params)
            return PaddleInferenceRunner(program, params, **kwargs)

    def _write_weights(self, path):
        # the .pdiparams format paddle.jit.save writes (paddle.static.pir_io.save_vars_pir): tensors sorted by name
        weights = {tensor.name: tensor for tensor in self.net.state_dict().values()}
        names = sorted(weights)
        core.save_combine_func([weights[n].value().get_tensor() for n in names], names, path, True, False, False)
