"""onednn_batch_norm against Paddle's batch norm: outputs, the three gradients and the running statistics, training
and eval, in each layout (the fused ReLU refused); and the BatchNorm2D swap keeps a checkpoint's names."""

import paddle
import paddle.nn.functional as F
import pytest

from tests.helpers import relative_error

TOLERANCE = 1e-5  # relative to the largest magnitude of Paddle's result: fp32 agreement
# the scale and shift gradients are sums over N*H*W terms, summed in another order by oneDNN's blocked kernel
GRAD_TOLERANCE = 1e-4

# C = 24 is no multiple of the blocked layout's 8 or 16 channels: the padded tail must not leak in; H != W
# planes of 33 x 31 reach the vectorized loops of the channel_loops mode with a tail
SHAPES = {"odd-channels": [4, 24, 5, 7], "one-pixel": [8, 16, 1, 1], "wide-planes": [2, 8, 33, 31]}


@pytest.fixture(scope="module")
def onednn(onednn_ops):
    from paddle_attn.kernels.onednn import batch_norm, layers

    return batch_norm.batch_norm, layers


def random_case(shape):
    channels = shape[1]
    x = paddle.randn(shape) * 3 + 1
    weight, bias = paddle.rand([channels]) + 0.5, paddle.randn([channels])
    for t in (x, weight, bias):
        t.stop_gradient = False
    return x, weight, bias, paddle.randn([channels]), paddle.rand([channels]) + 0.5


@pytest.mark.parametrize("layout", ["nchw", "blocked", "channel_loops"])
@pytest.mark.parametrize("fuse_relu", [False, True], ids=["bn", "bn-relu"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_outputs_gradients_and_running_statistics_match_paddle(onednn, shape, training, fuse_relu, layout):
    batch_norm, _ = onednn
    if fuse_relu:
        with pytest.raises(ValueError, match="the fused ReLU is disabled"):
            batch_norm(*random_case(SHAPES[shape]), fuse_relu=True, layout=layout)
        return
    x, weight, bias, mean, var = random_case(SHAPES[shape])
    ref_mean, ref_var = mean.clone(), var.clone()
    y = batch_norm(x, mean, var, weight, bias, training=training, momentum=0.8, fuse_relu=fuse_relu, layout=layout)
    y_ref = F.batch_norm(x, ref_mean, ref_var, weight, bias, training=training, momentum=0.8)
    if fuse_relu:
        y_ref = F.relu(y_ref)
    assert relative_error(y, y_ref) <= TOLERANCE
    np_equal = paddle.allclose(mean, ref_mean, rtol=1e-6, atol=1e-7) and paddle.allclose(var, ref_var, rtol=1e-6)
    assert bool(np_equal)  # updated alike when training (momentum 0.8, biased variance), untouched in eval
    dy = paddle.randn(y_ref.shape)
    inputs = [x, weight, bias]
    for ours, theirs in zip(paddle.grad([y], inputs, [dy]), paddle.grad([y_ref], inputs, [dy])):
        assert relative_error(ours, theirs) <= GRAD_TOLERANCE


def test_channel_loops_keep_the_variance_where_the_mean_dwarfs_it(onednn):
    """Mean 1000, standard deviation 0.5: summing squares about zero would cancel all of the variance's digits in
    fp32; the loops sum about the channel's first value."""
    batch_norm, _ = onednn
    x, weight, bias, mean, var = random_case([4, 6, 9, 9])
    x = (x.detach() - 1) / 6 + 1000
    y = batch_norm(x, mean, var, weight, bias, training=True, layout="channel_loops")
    y_ref = F.batch_norm(x, mean.clone(), var.clone(), weight, bias, training=True)
    assert relative_error(y, y_ref) <= 1e-3  # Paddle's own fp32 result is this far from exact here


def test_training_moves_the_running_statistics_and_eval_leaves_them(onednn):
    batch_norm, _ = onednn
    x, weight, bias, mean, var = random_case([4, 8, 3, 3])
    before = mean.clone()
    batch_norm(x, mean, var, weight, bias, training=False)
    assert bool(paddle.equal_all(mean, before))
    batch_norm(x, mean, var, weight, bias, training=True, momentum=0.9)
    batch_mean = x.mean(axis=[0, 2, 3])
    assert relative_error(mean, 0.9 * before + 0.1 * batch_mean) <= TOLERANCE


def test_swapped_batch_norms_train_and_evaluate_like_paddles(onednn):
    _, layers = onednn
    # no conv bias: batch norm cancels it, so its gradient is rounding noise on both paths
    build = lambda: paddle.nn.Sequential(  # noqa: E731
        paddle.nn.Conv2D(3, 16, 3, bias_attr=False), paddle.nn.BatchNorm2D(16), paddle.nn.ReLU()
    )
    paddle_net, onednn_net = build(), build()
    onednn_net.set_state_dict(paddle_net.state_dict())
    assert layers.use_onednn_batch_norms(onednn_net, "blocked") == 1
    assert list(onednn_net.state_dict()) == list(paddle_net.state_dict())  # checkpoints interchangeable
    x = paddle.randn([4, 3, 8, 8])
    for net in (paddle_net, onednn_net):
        net.train()
        y = net(x)
        (y * paddle.linspace(-1, 1, y.size).reshape(y.shape)).sum().backward()  # a plain sum's BN gradient is ~0
        net.eval()
    assert relative_error(onednn_net(x), paddle_net(x)) <= TOLERANCE  # eval uses the running statistics updated alike
    grads = [{n: p.grad for n, p in net.named_parameters() if not p.stop_gradient} for net in (paddle_net, onednn_net)]
    assert len(grads[0]) == 3
    for name in grads[0]:
        assert relative_error(grads[1][name], grads[0][name]) <= GRAD_TOLERANCE, name
    assert layers.use_paddle_batch_norms(onednn_net) == 1
    assert type(onednn_net[1]) is paddle.nn.BatchNorm2D


def test_batch_norms_the_operator_cannot_compute_keep_paddles(onednn):
    _, layers = onednn
    net = paddle.nn.Sequential(
        paddle.nn.BatchNorm2D(4, data_format="NHWC"),
        paddle.nn.BatchNorm2D(4, use_global_stats=True),
        paddle.nn.BatchNorm1D(4),
    )
    assert layers.use_onednn_batch_norms(net) == 0
    with pytest.raises(ValueError, match="layout must be one of"):
        layers.use_onednn_batch_norms(net, "nhwc")
