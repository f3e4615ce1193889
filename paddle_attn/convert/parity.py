"""A PyTorch network beside its conversion: how far apart their logits are on the same images."""

import collections

import numpy as np
import paddle

from paddle_attn.convert.mapping import convert_state_dict

Parity = collections.namedtuple("Parity", "converted relative same_top1")


def convert_and_compare(torch_net, layout, image_size, images=4, train_passes=3, seed=0):
    """Convert `torch_net` (its code base: `layout`, see LAYOUTS) and run both networks in eval mode on `images`
    random images of `image_size` px. Before that, `train_passes` training-mode passes on random batches of 8 move
    BatchNorm's running statistics away from 0 and 1, so that a wrongly mapped statistic shows. Torch runs on one
    thread meanwhile: its pool and Paddle's spin against each other on a small CPU (tests/test_convert.py).

    Returns Parity(converted: `Converted(net, spec)`, relative: max |paddle - torch| / max |torch|, same_top1)."""
    import torch  # optional: torch, only to run the network being converted

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    random = np.random.RandomState(seed)
    try:
        with torch.no_grad():
            torch_net.train()
            for _ in range(train_passes):
                torch_net(torch.from_numpy(random.randn(8, 3, image_size, image_size).astype("float32")))
            torch_net.eval()
            batch = random.randn(images, 3, image_size, image_size).astype("float32")
            expected = torch_net(torch.from_numpy(batch)).numpy()
        converted = convert_state_dict(torch_net.state_dict(), layout)
        with paddle.no_grad():
            got = converted.net(paddle.to_tensor(batch)).numpy()
    finally:
        torch.set_num_threads(threads)
    relative = float(np.abs(got - expected).max() / np.abs(expected).max())
    return Parity(converted, relative, bool((got.argmax(1) == expected.argmax(1)).all()))
