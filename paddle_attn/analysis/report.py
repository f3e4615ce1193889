"""tools/visualize.py's work: a network and its preprocessing, then per image Grad-CAM and CBAM spatial
gates, and per model the gate distributions, EPSANet's kernel-size weights and NAM's scales, as PNGs."""

import json
import os

import numpy as np
import paddle

from paddle_attn.analysis import attention_figures as plots
from paddle_attn.analysis import gates as am
from paddle_attn.data.images import read_through
from paddle_attn.data.preprocessing import inference_info
from paddle_attn.data.transforms import build_transform
from paddle_attn.errors import DataError
from paddle_attn.weights import create_model, load_model

MAPS = ("gradcam", "spatial", "channel", "psa", "nam")  # the pictures, by what they show
STATS_FILE = "attention_stats.json"


def open_network(
    checkpoint=None,
    model=None,
    pretrained=None,
    num_classes=1000,
    stem="imagenet",
    image_size=None,
    pretrained_layout=None,
    trusted=False,
):
    """`(net in eval mode, model info)`: a checkpoint's network, or the registered `model` with random weights
    or those of `pretrained` (see `create_model`: every tensor checked), with its stem's preprocessing; `trusted`:
    see `checkpoint.load_params`."""
    if (checkpoint is None) == (model is None):
        raise ValueError("give a checkpoint or a model name, not both or neither")
    if checkpoint is not None:
        net, state = load_model(checkpoint, trusted)
        return net, inference_info(state, image_size)
    net = create_model(
        model,
        num_classes=num_classes,
        stem=stem,
        pretrained=pretrained,
        pretrained_layout=pretrained_layout,
        trusted=trusted,
    )
    net.eval()
    spec = {"name": model, "num_classes": num_classes, "stem": stem, "kwargs": {}}
    return net, inference_info({"model": spec}, image_size)


def class_index(target, class_names):
    """A class given by index or by name, as its index."""
    if target is None:
        return None
    if str(target).lstrip("-").isdigit():
        index = int(target)
        if not 0 <= index < len(class_names):
            raise ValueError(f"--target-class {index} is out of range: the model has {len(class_names)} classes")
        return index
    if target in class_names:
        return class_names.index(target)
    raise ValueError(
        f"unknown class {target!r}; the model's classes: {', '.join(class_names[:20])}"
        + (" ..." if len(class_names) > 20 else "")
    )


def available_maps(net):
    """The pictures `net` can give: Grad-CAM always, the others where it has the gates they show (by their traits)."""
    gates = [layer for layer in net.sublayers() if isinstance(layer, am.AttentionGate)]
    kinds = {am.gate_kind(gate) for gate in gates}
    found = {"gradcam"}
    if "spatial" in kinds:
        found.add("spatial")
    if kinds - {"spatial"}:
        found.add("channel")
    if any(isinstance(layer, am.PSAModule) for layer in net.sublayers()):
        found.add("psa")
    if any(gate.attention_scales() is not None for gate in gates):
        found.add("nam")
    return found


MISSING = {
    "spatial": "no CBAM spatial gate",
    "channel": "no channel, pixel or per-axis gates",
    "psa": "no PSA modules (EPSANet)",
    "nam": "no NAM blocks",
}


def plan(net, name, wanted=None):
    """`(maps to draw, notes)`: the asked-for maps (default: all) that `net` has, and a line for each it lacks."""
    have = available_maps(net)
    notes = [] if am.has_attention(net) else [f"{name} has no attention gates: Grad-CAM only"]
    notes += [f"{name} has {MISSING[kind]}: no {kind} pictures" for kind in wanted or () if kind not in have]
    return [kind for kind in wanted or MAPS if kind in have], notes


def _stage_summary(values_by_stage):
    return {
        stage: {
            "mean": float(v.mean()),
            "std": float(v.std()),
            "min": float(v.min()),
            "max": float(v.max()),
            "count": int(v.size),
        }
        for stage, v in values_by_stage.items()
    }


def write_report(
    net,
    info,
    paths,
    out_dir,
    maps=None,
    target_class=None,
    cam_layer="auto",
    nam_threshold=0.1,
    batch_size=8,
    log=print,
):
    """Draw the pictures of `maps` (default: every one `net` has) for the images at `paths` into `out_dir`.

    Per image `NNN_<name>.png`, written as it is done; per model `channel_gates.png`, `psa_scales.png`,
    `nam_scales.png` and `attention_stats.json` (the numbers behind them). `log` gets a line per image and
    per note. Returns {"images": [png paths], "model": [png paths], "errors": [unreadable images],
    "notes": [...], "stats": {...}}.
    """
    name = info["model"]["name"]
    class_names = list(info.get("class_names") or [str(i) for i in range(info["model"]["num_classes"])])
    target = class_index(target_class, class_names)
    draw, notes = plan(net, name, maps)
    for note in notes:
        log(note)
    os.makedirs(out_dir, exist_ok=True)
    transform = build_transform(info["transform"], False, info["image_size"], info.get("mean"), info.get("std"))
    result = {"images": [], "model": [], "errors": [], "notes": notes, "stats": {}}
    gates, psa, layer, done = {}, {}, None, 0
    for start in range(0, len(paths), batch_size):
        batch, arrays = [], []
        for position, path in enumerate(paths[start : start + batch_size], start=start + 1):
            try:
                arrays.append(read_through(transform, path))
                batch.append((position, path))
            except DataError as err:
                result["errors"].append(str(err))
                log(f"skipped: {err}")
        if not batch:
            continue
        found = am.attention_maps(net, np.stack(arrays), target, cam_layer)
        layer, done = found.cam_layer, done + len(batch)
        for kind in (kind for kind in found.gate_kinds() if kind != "spatial"):  # spatial maps: per image
            for stage, values in found.gate_values(kind, am.VALUES_PER_IMAGE).items():
                gates.setdefault(kind, {}).setdefault(stage, []).append(values.ravel())
        for stage, (kernels, weights) in found.stage_scale_weights().items():
            psa.setdefault(stage, (kernels, []))[1].append(weights)
        shown = plots.to_display(np.stack(arrays), info["transform"], info.get("mean"), info.get("std"))
        spatial = found.spatial_gates() if "spatial" in draw else {}
        probabilities = paddle.nn.functional.softmax(paddle.to_tensor(found.logits), axis=1).numpy()
        for i, (position, path) in enumerate(batch):
            predicted = found.predicted[i]
            line = f"[{position}/{len(paths)}] {path}: {class_names[predicted]} {probabilities[i][predicted]:.3f}"
            if "gradcam" in draw or spatial:
                stem = os.path.splitext(os.path.basename(path))[0]
                png = os.path.join(out_dir, f"{position:03d}_{stem}.png")
                _draw_image(png, stem, shown[i], found, i, probabilities[i], class_names, spatial, "gradcam" in draw)
                result["images"].append(png)
                line += f" -> {png}"
            log(line)
    if done:
        result["stats"] = {"model": name, "images": done, "cam_layer": layer}
        _draw_model(net, draw, gates, psa, nam_threshold, out_dir, result)
        for png in result["model"]:
            log(f"wrote {png}")
    return result


def _draw_model(net, draw, gates, psa, nam_threshold, out_dir, result):
    """The per-model pictures and their numbers, from the values gathered over the images."""
    name, stats, done = result["stats"]["model"], result["stats"], result["stats"]["images"]
    if "channel" in draw and gates:
        values = {
            kind: {stage: np.concatenate(parts) for stage, parts in by_stage.items()}
            for kind, by_stage in gates.items()
        }
        stats["gates"] = {kind: _stage_summary(by_stage) for kind, by_stage in values.items()}
        result["model"].append(
            _save(
                plots.plot_gate_distributions,
                out_dir,
                "channel_gates.png",
                values,
                f"{name}: attention gate values per stage over {done} image(s)",
            )
        )
    if "psa" in draw and psa:
        weights = {stage: (kernels, np.concatenate(parts).mean(axis=0)) for stage, (kernels, parts) in psa.items()}
        stats["psa_weights"] = {
            stage: dict(zip(map(str, kernels), map(float, w))) for stage, (kernels, w) in weights.items()
        }
        result["model"].append(
            _save(
                plots.plot_scale_weights,
                out_dir,
                "psa_scales.png",
                weights,
                f"{name}: PSA weight of each kernel size, mean over {done} image(s) and channels",
            )
        )
    if "nam" in draw:
        relative = am.nam_scale_weights_by_stage(net)
        stats["nam_scales"] = {
            "threshold": nam_threshold,
            "share_under": am.share_under(relative, nam_threshold),
            "by_stage": _stage_summary(relative),
        }
        result["model"].append(
            _save(
                plots.plot_nam_scales,
                out_dir,
                "nam_scales.png",
                relative,
                nam_threshold,
                f"{name}: NAM normalized BatchNorm scales |γ|/Σ|γ| per stage",
            )
        )
    with open(os.path.join(out_dir, STATS_FILE), "w") as f:
        json.dump(stats, f, indent=2)


def _save(plot, out_dir, file, *args):
    path = os.path.join(out_dir, file)
    plot(*args, path)
    return path


def _draw_image(png, title, image, found, i, probabilities, class_names, spatial, gradcam):
    predicted = found.predicted[i]
    panels = []
    if gradcam:
        cams = [(predicted, "predicted", found.cam[i])]
        if found.target_cam is not None:
            cams.append((found.target_class[i], "asked", found.target_cam[i]))
        for index, why, cam in cams:
            evidence = "" if cam.max() > 0 else ", no evidence"  # no position raises the class score
            panels.append(
                (f"Grad-CAM: {class_names[index]}\n({why}, p={probabilities[index]:.2f}{evidence})", cam, "cam")
            )
    for stage, maps in spatial.items():
        height, width = maps.shape[1:]
        value = f", all {float(maps[i].flat[0]):.3g}" if np.ptp(maps[i]) < 1e-6 else ""
        panels.append((f"spatial gate, {plots.STAGE_TITLES[stage]}\n({height}x{width}{value})", maps[i], "gate"))
    plots.plot_image_maps(
        image, panels, f"{title}  (Grad-CAM through {found.cam_layer}, {found.cam_size[0]}x{found.cam_size[1]})", png
    )
