"""Each tutorial's block written by hand is asserted equal to the library's layer in the notebook's next cell: that
check passes as written and fails when one line of the hand-written block changes (a sign, a kernel size).

The two cells run here as they run in the notebook (they import what they use), without the rest of it."""

import os

import pytest

from tests.test_tutorials import TUTORIALS, build

# (tutorial, a line that finds the block's cell, a line of it, the same line changed)
MUTATIONS = [
    ("nam", "class Channel_Att(nn.Layer):", "return F.sigmoid(x) * residual", "return F.sigmoid(-x) * residual"),
    ("se_eca", "class SELayer(nn.Layer):", "return x * s  #", "return -x * s  #"),
    ("se_eca", "class eca_layer(nn.Layer):", "k = t if t % 2 else t + 1", "k = t if t % 2 else t - 1"),
    ("cbam", "class ChannelAttention(nn.Layer):", "self.sigmoid(avg_out + max_out)", "self.sigmoid(avg_out - max_out)"),
    ("cbam", "class SpatialAttention(nn.Layer):", "kernel_size=7, padding=3", "kernel_size=5, padding=2"),
    ("epsanet", "class PSAModule(nn.Layer):", "(feats_weight[:, i], out)", "(out, feats_weight[:, i])"),
    ("epsanet", "class SEWeightModule(nn.Layer):", "conv_kernels=(3, 5, 7, 9)", "conv_kernels=(3, 5, 7, 7)"),
]
IDS = [f"{name}-{marker.split()[1].split('(')[0]}" for name, marker, _, _ in MUTATIONS]


def block_and_check(name, marker):
    """The code cell holding `marker` (the block by hand) and the code cell after it (its check)."""
    cells = build.parse_source(os.path.join(TUTORIALS, "source", f"{name}.py"))
    code = [cell.source for cell in cells if cell.kind == "code"]
    index = next(i for i, source in enumerate(code) if marker in source)
    return code[index], code[index + 1]


def run_cells(*sources):
    namespace = {"__name__": "tutorial_cells"}
    for source in sources:
        exec(compile(source, "<tutorial cell>", "exec"), namespace)


@pytest.mark.parametrize("name, marker, line, changed", MUTATIONS, ids=IDS)
def test_hand_written_block_passes_its_check_and_a_one_line_change_fails_it(name, marker, line, changed):
    block, check = block_and_check(name, marker)
    assert block.count(line) == 1, f"{name}: the line to change is not in the block's cell once"
    run_cells(block, check)
    with pytest.raises(AssertionError):
        run_cells(block.replace(line, changed), check)
