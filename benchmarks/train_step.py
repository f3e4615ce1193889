"""A raw training step for the benchmarks, beside the one tools/train.py runs: dygraph, or the forward as a PIR
program (paddle.jit.to_static). Benchmark-only: the library trains through paddle.Model.fit alone."""

import paddle

MODES = ("dygraph", "static")


class TrainStep:
    """`loss = step(images, labels)`: forward, backward and one optimizer step in `mode` (see MODES)."""

    def __init__(self, net, loss_fn, optimizer, mode="dygraph"):
        if mode not in MODES:
            raise ValueError(f"unknown training mode {mode!r}; modes: {', '.join(MODES)}")
        self.net, self.loss_fn, self.optimizer = net, loss_fn, optimizer
        self.forward = net if mode == "dygraph" else paddle.jit.to_static(net.forward, full_graph=True)

    def __call__(self, images, labels):
        self.net.train()
        loss = self.loss_fn(self.forward(images), labels)
        loss.backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        return loss
