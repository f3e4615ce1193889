"""How runs ended: the table and verdicts the tutorials print from their runs' logs."""

from paddle_attn.analysis.run_summary import final_scores, learning_verdict


def scalars(top1s, loss=0.5):
    """A run's read_scalars with the eval top-1 of each epoch in `top1s`."""
    epochs = list(range(1, len(top1s) + 1))
    return {
        "eval/top1": (epochs, list(top1s)),
        "eval/top5": (epochs, [min(1.0, t + 0.3) for t in top1s]),
        "eval/loss": (epochs, [2.0 - t for t in top1s]),
        "train/loss": ([10, 20], [1.5, loss]),
    }


def test_the_table_holds_each_runs_last_epoch_and_a_verdict_by_its_top1():
    table, verdicts = final_scores({"plain": scalars([0.3, 0.15]), "attention": scalars([0.4, 0.7], 0.25)}, 10)
    lines = table.splitlines()
    assert lines[2] == "| plain | 0.150 | 0.450 | 1.850 | 0.500 |"  # the last epoch, not the best
    assert lines[3] == "| attention | 0.700 | 1.000 | 1.300 | 0.250 |"
    assert verdicts.splitlines() == [
        "plain: eval top-1 0.150, top-5 0.450: it has not learned much: top-1 close to chance",
        "attention: eval top-1 0.700, top-5 1.000: it tells the 10 classes apart",
    ]


def test_the_grades_are_multiples_of_chance():
    assert learning_verdict(0.6, 10) == "it tells the 10 classes apart"
    assert learning_verdict(0.59, 10).startswith("it has learned part of the task")
    assert learning_verdict(0.2, 10).startswith("it has learned part of the task")
    assert learning_verdict(0.19, 10).startswith("it has not learned much")
    assert learning_verdict(0.9, 2) == "it tells the 2 classes apart"  # 6x chance is beyond 1: capped at 0.9
    assert learning_verdict(0.7, 2).startswith("it has learned part")  # halfway from chance to learned
    assert learning_verdict(0.69, 2).startswith("it has not learned much")
