"""Loihi 2 against Intel's own figures for PilotNet LIF (ground truth recorded
by Intel: its compiler's per-core table and its silicon measurement, held in
benchmarks/intel_parity.py), and docs/hardware.md's tables against the code."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("intel_parity")


@pytest.fixture(scope="module")
def parity(bench):
    return bench.parity("loihi2")


def test_pilotnet_lif_cores_equal_intels_compiler_layer_by_layer(bench, parity):
    assert {r["layer"]: r["ours"] for r in parity["layers"]} == bench.intel_cores()
    assert parity["cores"] == bench.INTEL["total_cores"] == 74


def test_pilotnet_lif_per_core_distribution_in_the_compilers_units(bench, parity):
    """AxonIn, NeuronGr, Neurons and AxonMap as Intel's table prints them (mean per
    core); Synapses (SynMem words) exact on the dense rows and three conv rows, the
    other two conv rows within 1.25x; AxonMem is not modelled."""
    rows = parity["distribution"]
    assert [r["layer"] for r in rows] == list(bench.INTEL["distribution"])  # output layer first
    for r in rows:
        for col in ("AxonIn", "NeuronGr", "Neurons", "AxonMap"):
            assert round(r[col]) == r["intel"][col], (r["layer"], col)
        ours, intel = round(r["Synapses"]), r["intel"]["Synapses"]
        assert ours == intel if r["kind"] != "conv" else intel <= ours <= 1.25 * intel, (r["layer"], ours, intel)
        assert r["AxonMem"] is None
    assert sum(round(r["Synapses"]) == r["intel"]["Synapses"] for r in rows) == 8


def test_pilotnet_lif_energy_and_throughput_against_silicon(bench, parity):
    """The issue's bars (dynamic energy within 15 %, throughput within 10 %); the profile
    was calibrated on this measurement, so they hold within rounding of the fit."""
    assert parity["dynamic_energy_ratio"] == pytest.approx(1.0, abs=0.01)
    assert parity["throughput_ratio"] == pytest.approx(1.0, abs=0.01)
    # static energy = static power x time, per chip: Intel's measured static share
    static = bench.INTEL["total_energy_uj"] - bench.INTEL["dynamic_energy_uj"]
    assert parity["static_energy_uj"] == pytest.approx(static, rel=0.01)
    assert "calibrated on one network" in parity["uncertainty"]


def test_docs_hold_the_benchmarks_tables(bench, parity):
    text = (ROOT / "docs" / "hardware.md").read_text()
    section = text.split(bench.BEGIN)[1].split(bench.END)[0].strip()
    assert section == bench.tables(parity, bench.wheel_cores("loihi2")).strip()
