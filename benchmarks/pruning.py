"""Network slimming end to end: train with the BatchNorm sparsity penalty, prune by |gamma|, fine-tune, export, time.

    python benchmarks/pruning.py                      # shapes and digits, 40 % fewer FLOPs and 20 / 60 %
    python benchmarks/pruning.py --datasets digits --reductions 0.4 --epochs 2 --finetune-epochs 1

For each data set, a resnet18_nam (ImageNet stem, 32 px, the quick-start network) trains --epochs epochs with
`loss.bn_sparsity` = --sparsity, then each --reductions FLOPs reduction prunes it (tools/prune.py's `prune_run`,
widths rounded to multiples of --round-to) and fine-tunes --finetune-epochs epochs. Data sets: "shapes", the
generated 10-class set (paddle_attn.data.synthetic) and "digits", scikit-learn's 8x8 handwritten digits (1797
real images, upscaled to 32 px; 75 % train, 25 % test, stratified). Top-1 is the best test top-1 over each run's
epochs (the run's `best`), for the unpruned and the fine-tuned runs alike; after pruning, before fine-tuning, the
pruned checkpoint's own. The control row trains the unpruned network on as many epochs, with the fine-tuning
recipe: the pruned networks are compared with it too, as they train longer than the unpruned one. A second call with
the same --work reads the finished runs back and only measures again. Speed: the exported fp32 model
(tools/export.py's export) at batch 64 through Paddle Inference (oneDNN) and OpenVINO (ONNX), and OpenVINO's int8
model (quantize_int8: --calibration-images images of the training split, checked on --holdout-images others; its
one-line report printed), every model taking turns, median of --repeats calls each. Paddle Inference has no int8
here: its CPU int8 runs programs quantized by PaddleSlim, which the project does not produce.
Prints one Markdown table per data set and writes the plot of top-1 against FLOPs to --plot.
"""

import argparse
import copy
import os
import statistics
import tempfile
import time

import numpy as np
from common import ROOT, machine, training_split_images, versions

from paddle_attn import checkpoint as ckpt
from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.inference.int8 import int8_path, int8_summary, quantize_int8, read_int8_report
from paddle_attn.inference.onnx_conversion import ONNX_FILE, export_onnx
from paddle_attn.inference.predict import backend_runner
from paddle_attn.inference.write_export import export
from paddle_attn.pruning.run_folder import prune_run
from paddle_attn.training import evaluate, train

QUIET = ["train.verbose=0", "visualdl.enabled=false", "data.num_workers=0"]


def digits_folder(root):
    """scikit-learn's digits as an image folder root/{train,val}/<digit>/<n>.png (8x8 grey, 0-16 -> 0-255)."""
    from PIL import Image  # noqa: I001
    from sklearn.datasets import load_digits  # optional: the benchmark's real data set, not the package's
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images * (255 / 16)).round().astype(np.uint8)
    split = train_test_split(np.arange(len(images)), test_size=0.25, random_state=0, stratify=digits.target)
    for name, indices in zip(("train", "val"), split):
        for index in indices:
            folder = os.path.join(root, name, str(digits.target[index]))
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(images[index]).convert("RGB").save(os.path.join(folder, f"{index}.png"))
    return root


def dataset_overrides(name, work):
    if name == "shapes":
        data_file = os.path.join(work, "shapes.tar.gz")
        return synthetic_data_overrides(data_file, train_per_class=200, test_per_class=50)
    root = digits_folder(os.path.join(work, "digits"))
    # resize only: flips and rotations would turn a 6 into a 9
    return ["data.dataset=folder", f"data.root={root}", "model.num_classes=10", "data.transform=imagenet"]


def int8_models(exports, calibration, holdout):
    """Calibrate OpenVINO's int8 model of each export (quantize_int8 beside its ONNX file, unless an earlier call
    did); {export name: the int8 report's one-line summary}."""
    summaries = {}
    for name, directory in exports.items():
        onnx_file = os.path.join(directory, ONNX_FILE)
        if not os.path.isfile(onnx_file):  # converted by an earlier call
            export_onnx(directory)
        if not os.path.isfile(int8_path(onnx_file)):
            quantize_int8(onnx_file, calibration, holdout_images=holdout)
        summaries[name] = int8_summary(read_int8_report(onnx_file))
        print(f"int8 {name}: {summaries[name]}")
    return summaries


def speeds(exports, batch, repeats, int8):
    """{(export, mode): images/s} of each export at `batch`: Paddle Inference fp32 ("paddle"), OpenVINO fp32
    ("openvino") and, with `int8`, OpenVINO int8 ("openvino int8"), every model taking turns."""
    images = np.random.default_rng(0).standard_normal((batch, 3, 32, 32)).astype("float32")
    runners = {}
    for name, directory in exports.items():
        runners[(name, "paddle")] = backend_runner(directory, "paddle")
        if not os.path.isfile(os.path.join(directory, ONNX_FILE)):  # converted by an earlier call
            export_onnx(directory)
        runners[(name, "openvino")] = backend_runner(directory, "openvino")
        if int8:
            runners[(name, "openvino int8")] = backend_runner(directory, "openvino", precision="int8")
    seconds = {key: [] for key in runners}
    for runner in runners.values():
        runner(images)  # plans and allocates
    for _ in range(repeats):
        for key, runner in runners.items():
            start = time.perf_counter()
            runner(images)
            seconds[key].append(time.perf_counter() - start)
    return {key: batch / statistics.median(values) for key, values in seconds.items()}


def trained(config):
    """{"best_top1", "seconds"} of the run `config` describes: trained now, or read back when --work already holds it
    finished (a second call of the benchmark re-times and adds rows without training again), resumed if unfinished."""
    latest = ckpt.find_latest(config["run"]["output_dir"])
    if latest is not None and ckpt.read_state(latest)["epoch"] == config["train"]["epochs"]:
        return {"best_top1": ckpt.read_state(latest)["best_top1"], "seconds": None}
    if latest is not None:  # a benchmark stopped half-way: its runs go on
        config = {**config, "run": {**config["run"], "resume": "auto"}}
    start = time.perf_counter()
    return {"best_top1": train(config)["best_top1"], "seconds": time.perf_counter() - start}


def run_dataset(name, args, work):
    base_dir = os.path.join(work, name, "base")
    overrides = dataset_overrides(name, work) + QUIET
    config = load_config(
        os.path.join(ROOT, "configs", "quickstart.yaml"),
        overrides + [f"train.epochs={args.epochs}", f"loss.bn_sparsity={args.sparsity}", f"run.output_dir={base_dir}"],
    )
    base = trained(config)
    print(f"{name}: trained {args.epochs} epochs ({_seconds(base)}), top-1 {base['best_top1']:.4f}")
    # the control: the unpruned network trained on as long as the pruned ones are fine-tuned, with the same recipe
    control = trained(control_config(config, base_dir, args.finetune_epochs, args.finetune_lr))
    rows, exports = [], {"unpruned": os.path.join(work, name, "export_base")}
    if not os.path.isdir(exports["unpruned"]):
        export(base_dir, exports["unpruned"])
    for reduction in args.reductions:
        out = os.path.join(work, name, f"pruned_{reduction:g}")
        if not os.path.isdir(os.path.join(out, "checkpoints")):
            prune_run(
                base_dir, out, flops_reduction=reduction, round_to=args.round_to, finetune_epochs=args.finetune_epochs
            )
        record = ckpt.read_state(out)["pruned"]
        after_prune = evaluate(config, out, verbose=0)["top1"]
        finetune = load_config(
            os.path.join(out, "config.yaml"),
            QUIET + [f"lr.base={args.finetune_lr}", "lr.warmup_steps=0"],
            saved_run=True,
        )
        tuned = trained(finetune)
        print(
            f"{name} -{reduction:.0%} FLOPs: pruned top-1 {after_prune:.4f}, fine-tuned ({_seconds(tuned)}) {tuned['best_top1']:.4f}"
        )
        key = f"-{reduction:.0%}"
        exports[key] = os.path.join(out, "export")
        if not os.path.isdir(exports[key]):
            export(finetune["run"]["output_dir"], exports[key])
        rows.append((reduction, record["params"], record["flops"], after_prune, tuned["best_top1"]))
    int8 = args.calibration_images > 0
    if int8:
        images = training_split_images(base_dir, args.calibration_images + args.holdout_images)
        int8_models(exports, images[: args.calibration_images], images[args.calibration_images :])
    return base["best_top1"], control["best_top1"], rows, speeds(exports, args.batch, args.repeats, int8)


def control_config(config, base_dir, epochs, lr):
    """The control run: the unpruned run `base_dir` trained on `epochs` epochs at `lr`, as the pruned ones are."""
    control = copy.deepcopy(config)
    control["model"]["pretrained"] = ckpt.resolve(base_dir)
    control["run"]["output_dir"] = os.path.join(os.path.dirname(base_dir), "unpruned_finetune")
    control["loss"]["bn_sparsity"] = 0.0
    control["train"]["epochs"] = epochs
    control["lr"].update({"base": lr, "warmup_steps": 0})
    return control


def _seconds(result):
    return "read back" if result["seconds"] is None else f"{result['seconds']:.0f} s"


def table(name, base_top1, control_top1, rows, speeds):
    params, flops = rows[0][1][0], rows[0][2][0]
    lines = [
        f"**{name}** (resnet18_nam, ImageNet stem, 32 px; images/s at batch 64; int8: calibrated OpenVINO)",
        "",
        "| network | params | MFLOPs | top-1 pruned | top-1 fine-tuned | Paddle Inference | OpenVINO | OpenVINO int8 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| unpruned | {params / 1e6:.2f} M | {flops / 1e6:.1f} | - | {base_top1:.2%} | "
        f"{_speed(speeds, 'unpruned', 'paddle')} | {_speed(speeds, 'unpruned', 'openvino')} | "
        f"{_speed(speeds, 'unpruned', 'openvino int8')} |",
        f"| unpruned, trained on as long (control) | {params / 1e6:.2f} M | {flops / 1e6:.1f} | - | {control_top1:.2%} | - | - | - |",
    ]
    for reduction, (_, params_after), (_, flops_after), after_prune, tuned in rows:
        key = f"-{reduction:.0%}"
        lines.append(
            f"| {key} FLOPs | {params_after / 1e6:.2f} M | {flops_after / 1e6:.1f} | {after_prune:.2%} | "
            f"{tuned:.2%} ({(tuned - base_top1) * 100:+.1f}) | {_speed(speeds, key, 'paddle', 'unpruned')} | "
            f"{_speed(speeds, key, 'openvino', 'unpruned')} | {_speed(speeds, key, 'openvino int8', 'unpruned')} |"
        )
    return "\n".join(lines)


def _speed(speeds, name, backend, reference=None):
    value = speeds.get((name, backend))
    if value is None:
        return "-"
    base = speeds.get((reference, backend)) if reference else None
    return f"{value:.0f}" + (f" ({value / base:.2f}x)" if base else "")


def plot(results, path):
    import matplotlib  # noqa: I001  (the plot only)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for axis, (name, (base_top1, control_top1, rows, _)) in zip(axes[0], results.items()):
        full = rows[0][2][0] / 1e6
        flops = [r[2][1] / 1e6 for r in rows]
        axis.plot([full], [base_top1 * 100], "ks", label="unpruned")
        axis.plot([full], [control_top1 * 100], "k^", label="unpruned, trained on as long")
        axis.plot(flops, [r[3] * 100 for r in rows], "x--", color="tab:red", label="pruned")
        axis.plot(flops, [r[4] * 100 for r in rows], "o-", color="tab:blue", label="pruned + fine-tuned")
        axis.set(title=name, xlabel="MFLOPs per image (32 px)", ylabel="top-1 (%)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["shapes", "digits"], choices=["shapes", "digits"])
    parser.add_argument("--reductions", nargs="+", type=float, default=[0.2, 0.4, 0.6])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--finetune-epochs", type=int, default=6)
    parser.add_argument("--finetune-lr", type=float, default=0.02)
    parser.add_argument("--sparsity", type=float, default=1e-3, help="loss.bn_sparsity while training")
    parser.add_argument("--round-to", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--calibration-images",
        type=int,
        default=300,
        help="OpenVINO int8 calibration images (training split); 0: no int8",
    )
    parser.add_argument(
        "--holdout-images", type=int, default=1000, help="other training images int8 is checked on against fp32"
    )
    parser.add_argument("--plot", default="pruning_top1_flops.png")
    parser.add_argument("--work", help="folder for the runs (default: a temporary one)")
    args = parser.parse_args()
    print(f"{machine()}; {versions()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        results = {name: run_dataset(name, args, work) for name in args.datasets}
    print(f"\nafter the runs: {machine()}\n")
    for name, result in results.items():
        print(table(name, *result) + "\n")
    plot(results, args.plot)


if __name__ == "__main__":
    main()
