"""int8 with a measured promise: calibrate with each recipe and measure it against fp32 on held-out images (1,000 or
more, other than the calibration ones: the target is then a count of flips); where it flips more than
`target_agreement` allows, put back in fp32 the convolutions that move fp32's near-ties the most until it does or
a limit is reached; keep the recipe that ends closer to fp32. A report beside the int8 file says what each recipe
gave, the hold-out's flips and lower bound, what stopped the restoration and what stayed in fp32."""

import contextlib
import importlib.util
import json
import math
import os
import tempfile
import time

import numpy as np

from paddle_attn.errors import InferenceError
from paddle_attn.inference.backend_options import import_backend
from paddle_attn.inference.int8.binomial import CONFIDENCE, agreement_lower_bound
from paddle_attn.inference.int8.fp32_fallback import with_fp32_convs
from paddle_attn.inference.int8.holdout import closeness, near_tie_loss, near_tie_weights, openvino_logits
from paddle_attn.inference.int8.recipes import RECIPES, always_fp32, conv_names

INT8_SUFFIX = "_int8.onnx"
METHODS = ("auto", *RECIPES)
HOLDOUT_EVERY = 5  # every 5th calibration image is held out to check the result
MIN_CALIBRATION_IMAGES = 20  # 16 to calibrate, 4 to check
TARGET_AGREEMENT = 0.995  # top-1 agreement with fp32 that the int8 path promises (README, Deploy)
NEGLIGIBLE_WEIGHT = 1e-3  # near-tie weight below which an image is left out of the ranking
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


def _as_images(images, what):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.float32:
        raise InferenceError(f"{what} images must be float32 [N, 3, H, W], got {images.dtype} {list(images.shape)}")
    return images


def _check(onnx_path, images, holdout, method, target_agreement, max_fp32_convs):
    images = _as_images(images, "calibration")
    if len(images) < MIN_CALIBRATION_IMAGES:
        held = "" if holdout is not None else f" (1 in {HOLDOUT_EVERY} is held out to check the result)"
        raise InferenceError(
            f"int8 calibration needs at least {MIN_CALIBRATION_IMAGES} images{held}, got {len(images)}"
        )
    if holdout is not None:
        holdout = _as_images(holdout, "hold-out")
        if len(holdout) == 0 or holdout.shape[1:] != images.shape[1:]:
            raise InferenceError(
                f"hold-out images must be [N >= 1, {', '.join(map(str, images.shape[1:]))}] like the calibration "
                f"images, got {list(holdout.shape)}"
            )
    if method not in METHODS:
        raise InferenceError(f"int8 method must be one of {', '.join(METHODS)}, got {method!r}")
    if not 0 < target_agreement <= 1:
        raise InferenceError(f"int8 target agreement must be in (0, 1], got {target_agreement!r}")
    if max_fp32_convs is not None and (
        isinstance(max_fp32_convs, bool) or not isinstance(max_fp32_convs, int) or max_fp32_convs < 0
    ):
        raise InferenceError(f"int8 max fp32 convolutions must be an integer >= 0, got {max_fp32_convs!r}")
    if not os.path.isfile(onnx_path):
        raise InferenceError(f"no ONNX model {onnx_path!r}; write one with tools/export.py --format onnx")
    return images, holdout


def allowed_flips(holdout_images, target_agreement):
    """The most held-out images int8 may flip and still meet `target_agreement` (5 of 1,000 at 99.5 %)."""
    return math.floor(holdout_images * (1 - target_agreement) + 1e-9)


def _write_atomically(path, write):
    staged = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        write(staged)
        os.replace(staged, path)  # complete or absent
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staged)


def _run_recipes(onnx_path, calibration, holdout, reference, names, scratch, say):
    """{name: (int8 model, fp32 source model, held-out logits, measured)} for each recipe that could run;
    {name: reason} for others. `measured` (a dict) is what the report says of the recipe."""
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
        logits = openvino_logits(model, holdout)
        measured = closeness(logits, reference)
        measured["seconds"] = round(time.perf_counter() - start, 1)
        done[name] = (model, source, logits, measured)
        say(f"int8 {name}: {_describe(measured, len(holdout))} ({measured['seconds']} s)")
    return done, skipped


def _describe(measured, count):
    return (
        f"top-1 agreement {measured['agreement']:.1%} ({measured['flips']} flips), logit error "
        f"{measured['logit_error']:.2%} on {count} held-out images"
    )


def _closer(a, b):
    """Whether measure `a` beats `b`: fewer flips, then fewer convolutions in fp32 (speed), then less logit error."""
    key = lambda m: (m["flips"], m.get("fp32_convs", 0), m["logit_error"])  # noqa: E731
    return key(a) < key(b)


def _restore_fp32(model, source, logits, measured, holdout, reference, allowed, limit, say):
    """(model, names put back in fp32, measured, record): the convolutions ranked by the near-tie loss left with each
    one alone put back in fp32 (least first: it moved near-ties the most), then put back in that order until the
    flips are `allowed` or `limit` of them (None: MAX_FP32_SHARE of them) are fp32; the step closest to fp32
    (`_closer`) is kept. `record` gives the ranking, each step's measure and which limit stopped it."""
    candidates = [c for c in conv_names(model.graph) if c not in always_fp32(model.graph)]
    limit = int(len(candidates) * MAX_FP32_SHARE) if limit is None else min(limit, len(candidates))
    # weights from the error this recipe adds: the margins of that size are the ones it can flip
    weights = near_tie_weights(reference, np.abs(logits - reference).max(1).mean())
    # ranked on the images that weigh (margin under 7 typical errors: the rest add < 0.1 % each): fewer to run
    near = np.argsort(-weights)[: max(int((weights > NEGLIGIBLE_WEIGHT).sum()), 1)]
    if limit:
        say(f"int8: ranking {len(candidates)} convolutions by how much they move {len(near)} held-out near-ties")
    loss = {
        c: near_tie_loss(
            openvino_logits(with_fp32_convs(model, source, [c]), holdout[near]), reference[near], weights[near]
        )
        * len(near)
        / len(holdout)
        for c in (candidates if limit else [])
    }
    ranked = sorted(loss, key=loss.get)
    best = (model, [], measured)  # the recipe as it came, measured by _run_recipes
    steps, stopped_by = [], "fp32 limit"
    for count in range(1, limit + 1):
        restored = with_fp32_convs(model, source, ranked[:count])
        step = {"fp32_convs": count, "conv": ranked[count - 1], "near_tie_loss": loss[ranked[count - 1]]}
        step |= closeness(openvino_logits(restored, holdout), reference)
        steps.append(step)
        if _closer(step, best[2]):
            best = (restored, ranked[:count], step)
        say(f"int8: {count} convolutions in fp32: {_describe(step, len(holdout))}")
        if step["flips"] <= allowed:
            stopped_by = "target"
            break
    record = {"ranking": [[c, loss[c]] for c in ranked], "fp32_steps": steps, "fp32_limit": limit}
    return (*best, record | {"stopped_by": stopped_by})


def quantize_int8(
    onnx_path,
    calibration_images,
    out_path=None,
    method="auto",
    target_agreement=TARGET_AGREEMENT,
    progress=None,
    holdout_images=None,
    max_fp32_convs=None,
):
    """Write the int8 model of `onnx_path` (default: `int8_path(onnx_path)`) and its report
    (`int8_report_path`); return the model's path.

    calibration_images: float32 [N, 3, H, W], preprocessed as for inference (the evaluation pipeline), from the
    training distribution, N >= 20 (300 were used for the measured figures).
    holdout_images: the same kind of images, other ones, to check the result against fp32: >= 1,000 so that the
    target is a count of flips (5 at 99.5 %); None: every 5th calibration image is held out instead (too few to
    resolve 99.5 %: the report's lower bound says so).
    method: "auto" (each recipe, the one closer to fp32 on the held-out images kept), "onnxruntime" or "nncf".
    target_agreement: the share of held-out images whose top-1 class must match fp32's; below it, convolutions
    go back to fp32, at most `max_fp32_convs` of them (default: a quarter). progress: called with a line of text
    at each stage.
    """
    images, holdout = _check(onnx_path, calibration_images, holdout_images, method, target_agreement, max_fp32_convs)
    import_backend("onnxruntime", "onnx")
    import onnx

    started = time.perf_counter()
    say = progress or (lambda line: None)
    if holdout is None:
        holdout = images[HOLDOUT_EVERY - 1 :: HOLDOUT_EVERY]
        calibration = np.delete(images, np.arange(HOLDOUT_EVERY - 1, len(images), HOLDOUT_EVERY), axis=0)
    else:
        calibration = images
    allowed = allowed_flips(len(holdout), target_agreement)
    reference = openvino_logits(onnx.load(onnx_path), holdout)
    names = list(RECIPES) if method == "auto" else [method]
    out_path = out_path or int8_path(onnx_path)
    with tempfile.TemporaryDirectory(prefix="int8_") as scratch:
        done, skipped = _run_recipes(onnx_path, calibration, holdout, reference, names, scratch, say)
    if not done:
        raise InferenceError(f"no int8 recipe could run: {skipped}")
    final = {}
    for name, (model, source, logits, measured) in done.items():
        restored = []
        if measured["flips"] > allowed:
            say(f"int8 {name}: more than {allowed} flips, the target agreement {target_agreement:.1%}")
            model, restored, measured, record = _restore_fp32(
                model, source, logits, dict(measured), holdout, reference, allowed, max_fp32_convs, say
            )
            done[name][3].update(record, restored=restored)
        else:
            done[name][3]["stopped_by"] = "target"
        final[name] = (model, restored, measured)
    chosen = min(final, key=lambda n: (final[n][2]["flips"], len(final[n][1]), final[n][2]["logit_error"]))
    model, restored, measured = final[chosen]
    report = {
        "method": chosen,
        "recipes": {n: done[n][3] for n in done} | {n: {"skipped": reason} for n, reason in skipped.items()},
        "calibration_images": len(calibration),
        "holdout": "separate" if holdout_images is not None else f"every {HOLDOUT_EVERY}th calibration image",
        "holdout_images": len(holdout),
        "holdout_flips": measured["flips"],
        "allowed_flips": allowed,
        "target_agreement": target_agreement,
        "agreement": measured["agreement"],
        "agreement_lower_bound": agreement_lower_bound(measured["flips"], len(holdout)),
        "confidence": CONFIDENCE,
        "logit_error": measured["logit_error"],
        "met": measured["flips"] <= allowed,
        "stopped_by": done[chosen][3]["stopped_by"],
        "fp32_limit": done[chosen][3].get("fp32_limit"),
        "fp32_layers": always_fp32(model.graph) + restored,
        "seconds": round(time.perf_counter() - started, 1),
    }
    _write_atomically(out_path, lambda path: onnx.save(model, path))
    _write_atomically(_report_beside(out_path), lambda path: _dump(report, path))
    say(f"int8: kept {chosen}, {_describe(measured, len(holdout))}; fp32: {', '.join(report['fp32_layers'])}")
    return out_path


def int8_summary(report):
    """One line of what `report` (`read_int8_report`) says: the recipe kept, the hold-out's agreement, flips and
    lower bound, the target and what stopped the restoration, the layers in fp32, the time it took."""
    stopped = report["stopped_by"]
    if stopped == "fp32 limit":
        stopped = f"the fp32 limit ({report['fp32_limit']} convolutions)"
    return (
        f"{report['method']}, calibrated on {report['calibration_images']} images; top-1 agreement with fp32 "
        f"{report['agreement']:.1%} on {report['holdout_images']} held-out images ({report['holdout_flips']} flips; "
        f"{report['confidence']:.0%} lower bound {report['agreement_lower_bound']:.1%}), target "
        f"{report['target_agreement']:.1%} ({report['allowed_flips']} flips){'' if report['met'] else ' NOT met'}, "
        f"stopped by {stopped}; fp32: {', '.join(report['fp32_layers'])}; {report['seconds']} s"
    )


def _dump(report, path):
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
