"""Speed modes for Paddle on the CPU, each measured by benchmarks/train_speed.py and infer_speed.py.

    from paddle_attn import acceleration
    acceleration.speed_up_cpu()                        # before the first forward pass: threads, BLAS, allocator
    step = acceleration.TrainStep(net, loss_fn, optimizer)   # mode "dygraph"; "dygraph_bf16" on AMX CPUs
    loss = step(images, labels)

What each setting does, and why (figures on the project's 2-core machine in the README's speed table):

- `set_cpu_threads`: Paddle's CPU kernels use one thread unless told otherwise.
- `enable_fast_blas`: Paddle's CPU convolution is im2col + MKL's sgemm. On an AMD CPU this MKL takes
  its generic SSE path; `MKL_DEBUG_CPU_TYPE=5` makes it take its AVX2 path (sgemm 2.5x faster). Set on
  AMD only (on Intel it would cap MKL at AVX2) and only when the user has not set it.
- `keep_freed_memory`: Paddle's CPU allocator returns every large tensor to glibc, which unmaps it and
  maps fresh pages for the next one: every new activation then costs a page fault per 4 KiB (an
  out-of-place ReLU on a 16 MiB tensor: 12.7 ms; in place: 1.0 ms). `mallopt` keeps freed memory in
  the heap for reuse (that ReLU: 3.2 ms): elementwise ops 3-5x faster; resident memory stays at its peak.
- `TrainStep(mode="static")`: the network as a PIR program (`paddle.jit.to_static`), same parameters.
  Same numbers, same speed as dygraph here: the time is in the kernels, not in Python.
- `static_forward(net, onednn=True)`: evaluation (eval mode) as a PIR program through Paddle's
  `onednn_placement_pass`, without exporting. Same logits; on the 2-core AVX2 machine no faster than
  dygraph (no conv+BN/ReLU fusion, layout conversions between ops): `export_predictor` is the fast path.
  Not for training: Paddle 3.3's oneDNN BatchNorm does not update its running statistics there, the
  attention blocks' elementwise gradients abort the process, and on AVX2 CPUs the BatchNorm and ReLU
  gradients fall back to oneDNN's reference kernels (the saved activations are plain NCHW, the conv
  gradients blocked nChw8c): ResNet-18 trains 2.2x slower than in dygraph. Paddle's dygraph has no
  route to oneDNN kernels (`FLAGS_use_onednn`, `FLAGS_tracer_onednn_ops_on` change nothing there).
- `bf16_autocast`: `paddle.amp.auto_cast(dtype="bfloat16")`, offered only where the CPU computes bf16
  natively (AVX-512 BF16 or AMX): elsewhere neither Paddle nor oneDNN has fast bf16 kernels.
- `inference_config`, `create_predictor`, `export_predictor`: Paddle Inference with oneDNN (conv+BN
  folding, conv+ReLU fusion), bf16 where the CPU has it: the fast path for evaluation and prediction.
"""

import contextlib
import ctypes
import ctypes.util
import os
import platform
import sys

import paddle

from paddle_attn.runtime import set_cpu_threads

TRAIN_MODES = ("dygraph", "static", "dygraph_bf16", "static_bf16")

_applied = {}


# --- the machine ---------------------------------------------------------------------------------

def cpu_info():
    """`(vendor, flags)` of the first CPU in /proc/cpuinfo; ("", set()) where it cannot be read."""
    vendor, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return vendor, flags


def bf16_supported():
    """True where the CPU computes bf16 natively (AVX-512 BF16 or AMX) and Paddle says so too."""
    _, flags = cpu_info()
    native = bool(flags & {"avx512_bf16", "amx_bf16"})
    try:
        paddle_says = bool(paddle.base.core.supports_bfloat16())
    except AttributeError:
        paddle_says = native
    return native and paddle_says


def amx_supported():
    return "amx_bf16" in cpu_info()[1]


# --- process-wide settings -----------------------------------------------------------------------

def enable_fast_blas():
    """On AMD CPUs, set MKL_DEBUG_CPU_TYPE=5 (MKL's AVX2 path) unless already set. Returns True if set now.

    MKL reads it at its first call, so this must run before the first conv or matmul of the process
    (importing paddle_attn does it). On Intel CPUs it does nothing; PADDLE_ATTN_FAST_BLAS=0 turns it off.
    """
    vendor, flags = cpu_info()
    if os.environ.get("PADDLE_ATTN_FAST_BLAS") == "0":  # opt out, e.g. to measure MKL's own choice
        return False
    if vendor != "AuthenticAMD" or "avx2" not in flags or "MKL_DEBUG_CPU_TYPE" in os.environ:
        return False
    os.environ["MKL_DEBUG_CPU_TYPE"] = "5"
    _applied["fast_blas"] = True
    return True


def keep_freed_memory():
    """Make glibc keep freed memory for reuse instead of unmapping it (no page faults on each new tensor).

    Sets `mallopt(M_MMAP_MAX, 0)` and `mallopt(M_TRIM_THRESHOLD, 2 GiB - 1)`: large blocks come from
    the heap and stay there once freed. Linux/glibc only; returns True if applied. Resident memory
    stays at the process's peak instead of shrinking between steps.
    """
    if _applied.get("malloc"):
        return True
    if platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    ok = mallopt(m_mmap_max, 0) == 1 and mallopt(m_trim_threshold, 2**31 - 1) == 1
    _applied["malloc"] = ok
    return ok


def speed_up_cpu(threads=None, fast_blas=True, malloc=True):
    """Every process-wide CPU setting at once: threads, MKL's AVX2 path on AMD, the allocator.

    Call it first thing (before any conv runs). Returns what was applied, e.g.
    {"threads": 2, "fast_blas": True, "malloc": True}.
    """
    applied = {"threads": set_cpu_threads(threads)}
    applied["fast_blas"] = enable_fast_blas() or os.environ.get("MKL_DEBUG_CPU_TYPE") == "5" if fast_blas else False
    applied["malloc"] = keep_freed_memory() if malloc else False
    return applied


# --- oneDNN in static programs: Paddle's onednn_placement_pass (evaluation) ----------------------

_onednn_depth = 0
_pass_patched = False
_dialect_ready = False


def _register_onednn_dialect():
    """Paddle registers its oneDNN op dialect only when a Paddle Inference predictor with oneDNN is built;
    until then `onednn_placement_pass` finds no oneDNN ops and changes nothing. Build a one-op predictor once."""
    global _dialect_ready
    if _dialect_ready:
        return
    import tempfile

    from paddle.static import InputSpec

    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "relu")
        was_static = not paddle.in_dynamic_mode()
        if was_static:
            paddle.disable_static()
        try:
            paddle.jit.save(paddle.nn.ReLU(), prefix, input_spec=[InputSpec([None, 1], "float32")])
        finally:
            if was_static:
                paddle.enable_static()
        config = paddle.inference.Config(*_program_files(prefix))
        config.enable_onednn()
        config.disable_glog_info()
        paddle.inference.create_predictor(config)
    _dialect_ready = True


def _program_files(prefix):
    for suffix in (".json", ".pdmodel"):
        if os.path.isfile(prefix + suffix):
            return prefix + suffix, prefix + ".pdiparams"
    raise FileNotFoundError(f"no program file for {prefix!r}")


def place_onednn(program):
    """Run `onednn_placement_pass` on a PIR program, keeping each op's training/eval mode.

    The pass marks every op it converts `is_test=True` (it was written for inference): that would make
    BatchNorm use its running statistics in training and oneDNN's conv gradient refuses it. Ops that
    had `is_test` keep their value; ops that gain it (convs) get False, which computes the same numbers.
    """
    _register_onednn_dialect()
    block = program.global_block()
    before = [op.attrs().get("is_test") if op.has_attr("is_test") else None for op in block.ops]
    pm = paddle.pir.PassManager(3)  # the pass's own opt level
    pm.add_pass("onednn_placement_pass", {})
    pm.run(program)
    after = block.ops
    if len(after) != len(before):  # the pass replaces ops one for one; anything else: nothing to restore by position
        raise RuntimeError("onednn_placement_pass changed the number of ops; cannot restore is_test")
    for op, was in zip(after, before):
        if op.has_attr("is_test"):
            op.set_bool_attr("is_test", bool(was) if was is not None else False)
    return program


def _install_pass_hook():
    """Wrap dy2static's pass pipeline so programs built inside `onednn_programs()` get oneDNN ops."""
    global _pass_patched
    if _pass_patched:
        return
    from paddle.jit.dy2static import pir_partial_program as ppp

    original = ppp.apply_general_passes

    def apply_general_passes(program, **kwargs):
        original(program, **kwargs)
        if _onednn_depth > 0:
            place_onednn(program)

    ppp.apply_general_passes = apply_general_passes
    _pass_patched = True


@contextlib.contextmanager
def onednn_programs():
    """Programs that `paddle.jit.to_static` builds inside this context (forward and backward) run oneDNN kernels.

    Programs are built lazily, on the first call for each input shape; call the static network inside
    this context every time (as `TrainStep` does) so a new shape (the last, smaller batch) gets them too.
    """
    global _onednn_depth
    _install_pass_hook()
    _register_onednn_dialect()
    _onednn_depth += 1
    try:
        yield
    finally:
        _onednn_depth -= 1


# --- bf16 ----------------------------------------------------------------------------------------

def bf16_autocast(enabled=True, level="O1"):
    """`paddle.amp.auto_cast` to bfloat16 (convs, matmuls in bf16; BatchNorm, softmax in fp32), or a no-op."""
    if not enabled:
        return contextlib.nullcontext()
    return paddle.amp.auto_cast(enable=True, dtype="bfloat16", level=level)


# --- training steps ------------------------------------------------------------------------------

class TrainStep:
    """One optimizer step, `loss = step(images, labels)`, in one of `TRAIN_MODES`:

    "dygraph" (Paddle's eager mode), "static" (the network's forward as a PIR program), and their
    bf16-autocast variants where `bf16_supported()`. The network itself is not changed: checkpoints,
    `state_dict` and the optimizer see the same parameters in every mode.
    """

    def __init__(self, net, loss_fn, optimizer, mode="dygraph"):
        if mode not in TRAIN_MODES:
            raise ValueError(f"unknown training mode {mode!r}; modes: {', '.join(TRAIN_MODES)}")
        if mode.endswith("bf16") and not bf16_supported():
            raise RuntimeError(f"mode {mode!r} needs a CPU with AVX-512 BF16 or AMX; this one has neither")
        self.net, self.loss_fn, self.optimizer, self.mode = net, loss_fn, optimizer, mode
        self.bf16 = mode.endswith("bf16")
        self.forward = net if mode.startswith("dygraph") else to_static(net)

    def __call__(self, images, labels):
        self.net.train()
        with bf16_autocast(self.bf16):
            logits = self.forward(images)
        loss = self.loss_fn(logits.astype("float32"), labels)
        loss.backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        return loss


def to_static(net):
    """`net`'s forward as a PIR program for any batch size, sharing its parameters; `net` itself stays dygraph."""
    return paddle.jit.to_static(net.forward, full_graph=True)


def static_forward(net, onednn=True):
    """A callable running `net` (put it in eval mode) as a static program on oneDNN kernels if `onednn`:
    evaluation at Paddle Inference's speed without exporting. The logits equal dygraph's within 1e-6."""
    static_net = to_static(net)

    def forward(images):
        if onednn and net.training:
            raise ValueError("static_forward(onednn=True) is for evaluation: put the network in eval mode "
                             "(Paddle 3.3's oneDNN BatchNorm does not update its running statistics in training)")
        with onednn_programs() if onednn else contextlib.nullcontext():
            return static_net(images)

    return forward


# --- Paddle Inference ----------------------------------------------------------------------------

def inference_config(program_file, params_file, threads=None, onednn=True, precision="fp32", cache_capacity=10):
    """A `paddle.inference.Config` for the CPU: oneDNN kernels (and bf16 where the CPU has it) on `threads` threads.

    precision: "fp32", "bf16" (needs `bf16_supported()`), or "auto": bf16 where supported, else fp32.
    `cache_capacity` bounds oneDNN's primitive cache per input shape (0: unbounded).
    """
    if precision == "auto":
        precision = "bf16" if onednn and bf16_supported() else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32, bf16 or auto, got {precision!r}")
    if precision == "bf16" and not (onednn and bf16_supported()):
        raise RuntimeError("bf16 inference needs oneDNN and a CPU with AVX-512 BF16 or AMX")
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    config = paddle.inference.Config(program_file, params_file)
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(int(threads))
    config.disable_glog_info()
    if onednn:
        config.enable_onednn()
        if cache_capacity:
            config.set_onednn_cache_capacity(cache_capacity)
        if precision == "bf16":
            config.enable_onednn_bfloat16()
    else:
        config.disable_onednn()
    return config


def create_predictor(program_file, params_file, **kwargs):
    """A Paddle Inference predictor (see `inference_config`) with a `run(images) -> logits` method."""
    return Predictor(inference_config(program_file, params_file, **kwargs))


class Predictor:
    """A thin callable around `paddle.inference` with one input and one output: logits = predictor(images)."""

    def __init__(self, config):
        self.predictor = paddle.inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])
        self._ran = False

    def __call__(self, images):
        self.input.reshape(list(images.shape))
        self.input.copy_from_cpu(images)
        if self._ran:
            self.predictor.run()
        else:
            with _stdout_to_stderr():  # the first run's oneDNN kernel checks print debug lines on stdout
                self.predictor.run()
            self._ran = True
        return self.output.copy_to_cpu()


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what C++ code writes to file descriptor 1 to descriptor 2 meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers what it writes to a pipe
        os.dup2(saved, 1)
        os.close(saved)


def export_predictor(net, image_size, **kwargs):
    """`net` (put in eval mode here) saved to a temporary directory and loaded into a Paddle Inference
    `Predictor` (see `inference_config` for kwargs): evaluation during training at Paddle Inference's speed.

    The export costs a few seconds (resnet50: ~3 s); the predictor keeps no link to `net`, so build a
    new one after each training epoch. The network is put back in the mode it was in.
    """
    import tempfile

    from paddle.static import InputSpec

    was_training = net.training
    net.eval()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prefix = os.path.join(tmp, "inference")
            paddle.jit.save(net, prefix, input_spec=[InputSpec([None, 3, image_size, image_size], "float32", "image")])
            return create_predictor(*_program_files(prefix), **kwargs)
    finally:
        net.train(was_training)
