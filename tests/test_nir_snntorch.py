"""NIR with a real second framework, snnTorch (optional: skipped without it;
`make snntorch` installs it): a net built and trained in snnTorch, exported
with snnTorch's own NIR export, imported here, pruned, deployed to Lava and
budgeted; our pruned net exported to NIR, imported by snnTorch and run there.
The outputs must agree (latency-aligned, benchmarks/bench_nir.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("bench_nir")


@pytest.fixture(scope="module")
def data(mnist5k):
    return mnist5k.subset(train=200, test=48)


@pytest.mark.lava
@pytest.mark.slow
def test_a_snntorch_net_imports_prunes_deploys_and_agrees(bench, data, tmp_path):
    row = bench.snntorch_to_sca_lava(data, tmp_path, steps=12, epochs=1, lava_samples=2, prune_epochs=1)
    agree = row["imported_vs_snntorch"]
    assert agree["spike_agreement"] >= 0.97 and agree["class_agreement"] >= 0.9, agree
    assert all(c["iDecay"] == 1024 and c["vDecay"] == 123 for c in row["conversion"])  # alpha .75, beta .97
    pruned = row["pruned"]
    assert pruned["lava_spike_agreement_with_slayer"] == 1.0 and pruned["cores"] >= 1
    assert pruned["energy_fraction"] <= 0.5 + 1e-9


@pytest.mark.slow
def test_our_pruned_net_runs_in_snntorch_like_its_netx_file(bench, data, tmp_path):
    row = bench.sca_lava_to_snntorch(data, tmp_path, steps=12, epochs=1, prune_epochs=1)
    agree = row["deployed_netx_vs_snntorch"]
    assert agree["spike_agreement"] >= 0.97 and agree["class_agreement"] >= 0.9, agree
