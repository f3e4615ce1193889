"""Channel pruning by BatchNorm scales (network slimming): exact surgery, the global ranking with its floor, the
pruned run folder every tool reads, the refusals, and the BatchNorm sparsity penalty with its histograms."""

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import paddle
import pytest

import paddle_attn
from paddle_attn.errors import CheckpointError, ConfigError, ModelError
from paddle_attn.pruning import channel_sets, slim
from paddle_attn.pruning.run_folder import prune_run
from paddle_attn.pruning.selection import keep_for_flops, keep_for_ratio
from paddle_attn.pruning.slimming import flops_estimate
from tests.helpers import assert_close_to_scale, make_checkpoint, randomize_norms, run_tool, tiny_config

NARROW_RESNET50 = [[16, 8]] * 16  # resnet50's 16 bottlenecks at 16 and 8 inner channels: small and quick


def zero_lowest_channels(net, share, seed=0):
    """Zero gamma and beta of a random `share` of every inner channel set (norms randomized first); returns the
    indices each set should keep, the complement."""
    randomize_norms(net, seed)
    rng = np.random.default_rng(seed)
    kept = []
    for channel_set in channel_sets(net):
        width = channel_set.width
        gone = rng.choice(width, round(share * width), replace=False)
        for tensor in (channel_set.norm.weight, channel_set.norm.bias):
            values = tensor.numpy()
            values[gone] = 0.0
            tensor.set_value(values)
        kept.append(sorted(set(range(width)) - set(gone.tolist())))
    return kept


@pytest.mark.parametrize("name, kwargs", [("resnet18_se", {}), ("resnet50_nam", {"inner_widths": NARROW_RESNET50})])
def test_pruning_channels_whose_scale_and_shift_are_zero_leaves_the_output_unchanged(name, kwargs):
    spec = {"name": name, "num_classes": 10, "stem": "cifar", "kwargs": kwargs}
    net = paddle_attn.create_model_from_spec(spec)
    expected_kept = zero_lowest_channels(net, 0.5)
    net.eval()
    x = paddle.randn([4, 3, 16, 16])
    with paddle.no_grad():
        before = net(x).numpy()
        pruned = slim(net, spec, 16, ratio=0.5)
        after = pruned.net(x).numpy()
    assert pruned.kept == expected_kept  # the zeroed channels, lowest |gamma| everywhere, are exactly the ones gone
    widths = [len(k) for k in expected_kept]
    assert [w for block in pruned.spec["kwargs"]["inner_widths"] for w in block] == widths
    assert pruned.params[1] < pruned.params[0] and pruned.flops[1] < pruned.flops[0]
    # the FLOPs a target is bisected on, from the unpruned network's per-layer counts, are the pruned network's
    assert flops_estimate(net, pruned.sets, [1, 3, 16, 16])(pruned.kept) == pruned.flops[1]
    assert_close_to_scale(after, before, 1e-5)  # ReLU(0) = 0: the consumers' removed input slices added nothing
    rebuilt = paddle_attn.create_model_from_spec(pruned.spec)  # the spec alone builds the pruned network
    rebuilt.set_state_dict(pruned.net.state_dict())
    rebuilt.eval()
    with paddle.no_grad():
        np.testing.assert_array_equal(rebuilt(x).numpy(), after)


def test_the_global_ranking_keeps_a_floor_in_every_layer():
    scores = [np.zeros(10), np.array([5.0, 4.0, 1.0, 3.0])]
    # 11 of 14 go: the first set down to its floor (1 of 10), then the second set's lowest two, 1.0 and 3.0
    assert keep_for_ratio(scores, 0.8, min_keep=0.1) == [[0], [0, 1]]
    # 7 go, all from the first set; its 3 left rounded up to 4
    assert keep_for_ratio(scores, 0.5, min_keep=0.1, round_to=2) == [[0, 1, 2, 3], [0, 1, 2, 3]]
    with pytest.raises(ModelError, match=r"at most 12 \(85.7%\) can go"):
        keep_for_ratio(scores, 0.9, min_keep=0.1)


def test_a_flops_target_prunes_the_fewest_channels_that_meet_it():
    scores = [np.arange(8, dtype=float), np.arange(8, dtype=float) + 0.5]

    def flops_of(kept):  # a cost of 10 per kept channel plus a fixed 20
        return 20 + 10 * sum(len(k) for k in kept)

    kept = keep_for_flops(scores, flops_of, 0.4, min_keep=0.25)  # 180 FLOPs -> at most 108: 7.2 channels must go
    assert flops_of(kept) == 100 and sum(len(k) for k in kept) == 8
    with pytest.raises(ModelError, match=r"cannot remove 80% of the FLOPs.* by 66.7% at most"):
        keep_for_flops(scores, flops_of, 0.8, min_keep=0.25)


def test_epsanet_and_other_networks_are_refused_with_the_reason():
    from paddle_attn.layers import PSAModule
    from paddle_attn.models import Bottleneck, ResNet

    psa_blocks = ResNet(Bottleneck, (1, 1, 1, 1), 10, "cifar", conv_layer=PSAModule)  # EPSANet's blocks, 4 of them
    with pytest.raises(ModelError, match=r"cannot prune PSAModule blocks \(EPSANet\): PSA splits its channels"):
        channel_sets(psa_blocks)
    with pytest.raises(ModelError, match="pruning takes a paddle_attn ResNet, got a Linear"):
        channel_sets(paddle.nn.Linear(2, 2))
    with pytest.raises(ModelError, match="inner_widths needs the blocks' plain 3x3 convs; .* PSAModule"):
        paddle_attn.create_model("epsanet50", num_classes=10, inner_widths=[[8, 8]] * 16)


def test_a_folder_that_is_no_trained_run_is_refused(tmp_path, monkeypatch, capsys):
    from paddle_attn.cli.prune import main

    monkeypatch.setattr(
        sys, "argv", ["paddle-attn-prune", "--checkpoint", str(tmp_path), "--ratio", "0.3", "--output", "x"]
    )
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    assert f"error: '{tmp_path}' is not a checkpoint: no state.json in it" in capsys.readouterr().err
    run = make_checkpoint(str(tmp_path / "bare"), "resnet18")  # weights and spec, but no run config
    with pytest.raises(CheckpointError, match=r"records no run config \(state.json 'config'\), so no fine-tuning run"):
        prune_run(run, str(tmp_path / "out"), ratio=0.3)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def pruned_run(tmp_path_factory):
    """A resnet18_nam trained one epoch with the BatchNorm penalty, then pruned by tools/prune.py (40 % of FLOPs)."""
    from paddle_attn.training import train

    root = tmp_path_factory.mktemp("prune")
    train(tiny_config(root, "loss.bn_sparsity=1e-3", epochs=1))
    out = root / "pruned"
    result = run_tool(
        "prune.py", "--checkpoint", root / "run", "--flops-reduction", 0.4, "--output", out, "--finetune-epochs", 1
    )
    assert result.returncode == 0, result.stderr
    return root, out, result.stdout


def test_prune_writes_a_run_every_tool_loads(pruned_run, tmp_path):
    from paddle_attn.analysis.model_cost import count_flops
    from paddle_attn.config import load_config
    from paddle_attn.inference.predict import open_model
    from paddle_attn.inference.write_export import export

    root, out, stdout = pruned_run
    pool = ThreadPoolExecutor(2)  # the two tools' processes start while the library calls run here
    tools = pool.map(
        lambda args: run_tool(*args),
        [("eval.py", "--checkpoint", out, "--quiet"), ("summary.py", "-c", out / "config.yaml")],  # their configs
    )
    flops_line = next(line for line in stdout.splitlines() if line.startswith("FLOPs"))
    before, after = (int(n.replace(",", "")) for n in flops_line.split()[1:4:2])
    assert after <= 0.6 * before and "fine-tune: python tools/train.py -c" in stdout
    state = json.loads((out / "checkpoints" / "best" / "state.json").read_text())
    spec = state["model"]
    net = paddle_attn.create_model_from_spec({**spec, "pretrained": str(out)})  # a checkpoint as pretrained weights
    assert count_flops(net, [1, 3, 32, 32])[0] == after == state["pruned"]["flops"][1]
    net.eval()
    x = paddle.randn([2, 3, 32, 32])
    with paddle.no_grad():
        logits = net(x).numpy()

    config = load_config(out / "config.yaml", saved_run=True)
    assert config["model"]["kwargs"]["inner_widths"] == spec["kwargs"]["inner_widths"]
    assert config["run"]["output_dir"] == str(out / "finetune") and config["loss"]["bn_sparsity"] == 0.0
    info = export(str(out), str(tmp_path / "exported"))
    assert info["model"]["kwargs"]["inner_widths"] == spec["kwargs"]["inner_widths"]
    assert_close_to_scale(open_model(model_dir=str(tmp_path / "exported"))(x.numpy()), logits, 1e-4)
    evaluated, summary = tools
    pool.shutdown()
    assert evaluated.returncode == 0 and "(30 images" in evaluated.stdout, evaluated.stderr  # the run's own config
    assert summary.returncode == 0 and f"FLOPs {after / 1e9:.3f} G" in summary.stdout, summary.stdout + summary.stderr


def test_the_pruned_run_fine_tunes_as_a_run_of_its_own(pruned_run):
    from paddle_attn.config import load_config
    from paddle_attn.training import train

    _, out, _ = pruned_run
    config = load_config(out / "config.yaml", ["train.verbose=0", "device.eval_backend=dygraph"], saved_run=True)
    result = train(config)
    assert result["run_dir"] == str(out / "finetune") and result["epoch"] == 1
    state = json.loads((out / "finetune" / "checkpoints" / "latest" / "state.json").read_text())
    assert state["model"]["kwargs"]["inner_widths"] == config["model"]["kwargs"]["inner_widths"]
    with pytest.raises(ConfigError, match="already holds a run"):
        prune_run(str(out / "finetune"), str(out), ratio=0.2)


def test_training_with_bn_sparsity_logs_the_scales_per_stage(pruned_run):
    from visualdl import LogReader

    from paddle_attn.analysis.run_logs import log_files

    root, _, _ = pruned_run
    (log,) = log_files(str(root / "run"))
    reader = LogReader(file_path=log)
    for stage, channels in (("stem", 64), ("layer1", 4 * 64), ("layer4", 5 * 512)):  # layer4: 4 BNs + downsample
        (record,) = reader.get_data("histogram", f"batchnorm/{stage}/abs_gamma")
        assert record.id == 1 and sum(record.histogram.hist) == channels


def test_bn_sparsity_adds_lambda_sign_gamma_to_batchnorm_scales_only():
    from paddle_attn.optim import add_bn_sparsity, batchnorm_scales, nam_gammas

    net = paddle_attn.create_model("resnet18_nam", num_classes=10)
    scales = batchnorm_scales(net)
    assert len(scales) == 1 + 2 * 8 + 3 and not {id(p) for p in scales} & {id(p) for p in nam_gammas(net)}
    randomize_norms(net)
    for scale in scales:  # both signs, so that sign() matters
        scale.set_value(scale.numpy() * np.where(np.arange(scale.shape[0]) % 2, -1, 1).astype("float32"))
    x = paddle.randn([2, 3, 32, 32])

    def grads():
        net.clear_gradients()
        net(x).mean().backward()  # small gradients: the difference keeps its digits
        return [p.grad.numpy().copy() for p in scales], net.fc.weight.grad.numpy().copy()

    plain, plain_fc = grads()
    handles = add_bn_sparsity(net, 0.01)
    penalized, penalized_fc = grads()
    for handle in handles:
        handle.remove()
    for scale, g0, g1 in zip(scales, plain, penalized):
        np.testing.assert_allclose(g1 - g0, 0.01 * np.sign(scale.numpy()), atol=1e-5)
    np.testing.assert_array_equal(penalized_fc, plain_fc)
