"""The paper recipe (docs/scaling.md: CIFAR-10 VGG-16, T=4, SGD + StepLR,
crop-flip, SCA regrowth 0.1) is a real command: the test takes the documented
command line itself and runs it for ONE training step, on a tiny CIFAR-10
"python version" data set it writes from real MNIST-5k digits (padded to
32x32, three channels)."""

from __future__ import annotations

import json
import pickle
import re
import shlex
from pathlib import Path

import numpy as np

from sca_lava.cli import main

ROOT = Path(__file__).resolve().parents[1]


def documented_recipe() -> list[str]:
    text = (ROOT / "docs" / "scaling.md").read_text()
    block = re.search(r"<!-- recipe:[^>]*-->\s*```sh\n(.*?)\n```", text, re.S).group(1)
    words = shlex.split(block.replace("\\\n", " "))
    assert words[:2] == ["torchrun", "--nproc_per_node=4"] and words[2:4] == ["-m", "sca_lava"]
    return words[4:]


def write_cifar_from_digits(root: Path, digits, n_per_batch: int) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    img = np.pad((digits.train_x[:6 * n_per_batch] * 255).astype(np.uint8), ((0, 0), (0, 0), (2, 2), (2, 2)))
    img = np.repeat(img, 3, axis=1)  # (N, 3, 32, 32)
    labels = digits.train_y[:6 * n_per_batch]
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        sl = slice(k * n_per_batch, (k + 1) * n_per_batch)
        batch = {"data": img[sl].reshape(n_per_batch, 3072), "labels": labels[sl].tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))


def test_documented_vgg16_recipe_runs_one_step(tmp_path, mnist5k, capsys):
    write_cifar_from_digits(tmp_path / "data", mnist5k, 2)
    args = documented_recipe()
    assert args[0] == "prune"
    for flag, value in (("--epochs", "300"), ("--batch-size", "64"), ("--optimizer", "sgd"),
                        ("--lr-schedule", "step"), ("--shift", "4"), ("--regrow", "0.1"),
                        ("--budget", "params=0.28"), ("--criterion", "sca-paper")):
        assert args[args.index(flag) + 1] == value, flag  # the paper's setting is what is documented
    out = tmp_path / "run"
    # one step: 1 epoch of 4 training images in one batch of 4; CPU; the test's folders
    override = ["--epochs", "1", "--batch-size", "4", "--train-samples", "4", "--test-samples", "2",
                "--device", "cpu", "--data-root", str(tmp_path / "data"), "--out", str(out), "--no-progress"]
    assert main(args + override) == 0, capsys.readouterr().err
    rep = json.loads((out / "report.json").read_text())
    assert "--flip" in args
    assert rep["train_config"]["optimizer"] == "sgd" and rep["train_config"]["shift"] == 4 and rep["train_config"]["flip"]
    assert rep["train_config"]["lr_schedule"] == "step" and rep["train_config"]["momentum"] == 0.9
    assert len(rep["history"]) == 1 and (out / "pruned.net").is_file()
    assert rep["param_fraction"] <= 0.28 + 1e-9  # the keep ratio holds after the one update
    assert [c["before"] for c in rep["channels_per_layer"]][:2] == [64, 64]
