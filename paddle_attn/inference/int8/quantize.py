"""int8 with a measured promise: calibrate with each recipe on four fifths of the images and measure it on the
held-out fifth against fp32; where it disagrees with fp32 more than `target_agreement` allows, put the
convolutions that add the most error back in fp32 until it does; keep the recipe that ends closer to fp32. A report
beside the int8 file says what each recipe gave and what stayed in fp32."""

import contextlib
import importlib.util
import json
import os
import tempfile
import time

import numpy as np

from paddle_attn.errors import InferenceError
from paddle_attn.inference.backend_options import import_backend
from paddle_attn.inference.int8.fp32_fallback import with_fp32_convs
from paddle_attn.inference.int8.holdout import closeness, openvino_logits
from paddle_attn.inference.int8.recipes import RECIPES, always_fp32, conv_names

INT8_SUFFIX = "_int8.onnx"
METHODS = ("auto", *RECIPES)
HOLDOUT_EVERY = 5  # every 5th calibration image is held out to check the result
MIN_CALIBRATION_IMAGES = 20  # 16 to calibrate, 4 to check
TARGET_AGREEMENT = 0.995  # top-1 agreement with fp32 that the int8 path promises (README, Deploy)
MAX_FP32_SHARE = 0.25  # at most a quarter of the convolutions go back to fp32: beyond, int8 buys little speed


def int8_path(onnx_path):
    """Where `quantize_int8` writes the int8 model of `onnx_path`: model.onnx -> model_int8.onnx."""
    return os.path.splitext(onnx_path)[0] + INT8_SUFFIX


def int8_report_path(onnx_path):
    """Where `quantize_int8` writes its report: model.onnx -> model_int8.json."""
    return _report_beside(int8_path(onnx_path))


def _report_beside(model_path):
    return os.path.splitext(model_path)[0] + ".json"


def read_int8_report(onnx_path):
    """The report of the int8 model of `onnx_path`, or None if there is none."""
    try:
        with open(int8_report_path(onnx_path)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def _check(onnx_path, images, method, target_agreement):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.float32:
        raise InferenceError(
            f"calibration images must be float32 [N, 3, H, W], got {images.dtype} {list(images.shape)}"
        )
    if len(images) < MIN_CALIBRATION_IMAGES:
        raise InferenceError(
            f"int8 calibration needs at least {MIN_CALIBRATION_IMAGES} images (1 in {HOLDOUT_EVERY} is held out to "
            f"check the result), got {len(images)}"
        )
    if method not in METHODS:
        raise InferenceError(f"int8 method must be one of {', '.join(METHODS)}, got {method!r}")
    if not 0 < target_agreement <= 1:
        raise InferenceError(f"int8 target agreement must be in (0, 1], got {target_agreement!r}")
    if not os.path.isfile(onnx_path):
        raise InferenceError(f"no ONNX model {onnx_path!r}; write one with tools/export.py --format onnx")
    return images


def _write_atomically(path, write):
    staged = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        write(staged)
        os.replace(staged, path)  # complete or absent
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staged)


def _run_recipes(onnx_path, calibration, holdout, reference, names, scratch, say):
    """{name: (int8 model, fp32 source model, measured)} for each recipe that could run; {name: reason} for others.
    `measured` (a dict) is what the report says of the recipe."""
    import onnx

    done, skipped = {}, {}
    for name in names:
        if name == "nncf" and importlib.util.find_spec("nncf") is None:
            skipped[name] = 'not installed: pip install -e ".[int8]"'
            continue
        start = time.perf_counter()
        path = os.path.join(scratch, f"{name}.onnx")
        source = RECIPES[name](onnx_path, calibration, path)
        model = onnx.load(path)
        measured = closeness(openvino_logits(model, holdout), reference)
        measured["seconds"] = round(time.perf_counter() - start, 1)
        done[name] = (model, source, measured)
        say(f"int8 {name}: {_describe(measured, len(holdout))} ({measured['seconds']} s)")
    return done, skipped


def _describe(measured, count):
    return (
        f"top-1 agreement {measured['agreement']:.1%}, logit error {measured['logit_error']:.2%} "
        f"on {count} held-out images"
    )


def _restore_fp32(model, source, measured, holdout, reference, target_agreement, say):
    """(model, names put back in fp32, measured, steps): the convolutions whose fp32 copy alone removes the most
    error, added one by one until the agreement reaches `target_agreement` or MAX_FP32_SHARE of them are fp32;
    the step closest to fp32 (agreement, then logit error) is kept, and `steps` lists what each gave."""
    candidates = [c for c in conv_names(model.graph) if c not in always_fp32(model.graph)]
    say(f"int8: ranking {len(candidates)} convolutions by the error each adds")
    errors = {
        c: closeness(openvino_logits(with_fp32_convs(model, source, [c]), holdout), reference) for c in candidates
    }
    ranked = sorted(candidates, key=lambda c: errors[c]["logit_error"])
    best = (model, [], measured)  # the recipe as it came, measured by _run_recipes
    steps = []
    for count in range(1, int(len(candidates) * MAX_FP32_SHARE) + 1):
        restored = with_fp32_convs(model, source, ranked[:count])
        measured = closeness(openvino_logits(restored, holdout), reference)
        steps.append({"fp32_convs": count, **measured})
        if (measured["agreement"], -measured["logit_error"]) > (best[2]["agreement"], -best[2]["logit_error"]):
            best = (restored, ranked[:count], measured)
        say(f"int8: {count} convolutions in fp32: {_describe(measured, len(holdout))}")
        if measured["agreement"] >= target_agreement:
            break
    return (*best, steps)


def quantize_int8(
    onnx_path, calibration_images, out_path=None, method="auto", target_agreement=TARGET_AGREEMENT, progress=None
):
    """Write the int8 model of `onnx_path` (default: `int8_path(onnx_path)`) and its report
    (`int8_report_path`); return the model's path.

    calibration_images: float32 [N, 3, H, W], preprocessed as for inference (the evaluation pipeline), from the
    training distribution, N >= 20 (300 were used for the measured figures); every 5th is held out.
    method: "auto" (each recipe, the one closer to fp32 on the held-out images kept), "onnxruntime" or "nncf".
    target_agreement: the share of held-out images whose top-1 class must match fp32's; below it, convolutions
    go back to fp32 (at most a quarter of them). progress: called with a line of text at each stage.
    """
    images = _check(onnx_path, calibration_images, method, target_agreement)
    import_backend("onnxruntime", "onnx")
    import onnx

    say = progress or (lambda line: None)
    holdout = images[HOLDOUT_EVERY - 1 :: HOLDOUT_EVERY]
    calibration = np.delete(images, np.arange(HOLDOUT_EVERY - 1, len(images), HOLDOUT_EVERY), axis=0)
    reference = openvino_logits(onnx.load(onnx_path), holdout)
    names = list(RECIPES) if method == "auto" else [method]
    out_path = out_path or int8_path(onnx_path)
    with tempfile.TemporaryDirectory(prefix="int8_") as scratch:
        done, skipped = _run_recipes(onnx_path, calibration, holdout, reference, names, scratch, say)
    if not done:
        raise InferenceError(f"no int8 recipe could run: {skipped}")
    final = {}
    for name, (model, source, measured) in done.items():
        restored, steps = [], []
        if measured["agreement"] < target_agreement:
            say(f"int8 {name}: below the target agreement {target_agreement:.1%}")
            model, restored, measured, steps = _restore_fp32(
                model, source, dict(measured), holdout, reference, target_agreement, say
            )
            done[name][2].update(fp32_steps=steps, restored=restored)
        final[name] = (model, restored, measured)
    chosen = max(final, key=lambda n: (final[n][2]["agreement"], -final[n][2]["logit_error"]))
    model, restored, measured = final[chosen]
    report = {
        "method": chosen,
        "recipes": {n: done[n][2] for n in done} | {n: {"skipped": reason} for n, reason in skipped.items()},
        "calibration_images": len(calibration),
        "holdout_images": len(holdout),
        "target_agreement": target_agreement,
        "agreement": measured["agreement"],
        "logit_error": measured["logit_error"],
        "met": measured["agreement"] >= target_agreement,
        "fp32_layers": always_fp32(model.graph) + restored,
    }
    _write_atomically(out_path, lambda path: onnx.save(model, path))
    _write_atomically(_report_beside(out_path), lambda path: _dump(report, path))
    say(f"int8: kept {chosen}, {_describe(measured, len(holdout))}; fp32: {', '.join(report['fp32_layers'])}")
    return out_path


def _dump(report, path):
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
