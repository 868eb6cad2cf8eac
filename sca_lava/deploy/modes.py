"""How a netx network runs in time, shared by the evaluator and the Lava
runner (a leaf of ``deploy``): the streaming or fresh mode, when each layer
resets inside a sample window, which layers keep their state, and what the
evaluator does not model."""

from __future__ import annotations

from sca_lava.errors import ScaLavaError
from sca_lava.netx.spec import NetxSpec

MODES = ("stream", "fresh")


def default_mode(spec: NetxSpec) -> str:
    """``stream`` where Lava can reset between samples, else ``fresh``
    (SDNN state is never reset by netx; delayed spikes cross sample borders)."""
    if spec.sdnn or any(ly.delay is not None and ly.delay.any() for ly in spec.neuron_layers):
        return "fresh"
    return "stream"


def state_layers(record_state, recorded) -> list[int]:
    """The neuron layers whose per-step state a run keeps: ``record_state``
    True = every recorded layer, or the layer indices themselves (Lava reads
    a variable one element per message, so each large layer costs seconds a
    step: read only what is compared)."""
    if record_state is True:
        return list(recorded)
    if not record_state:
        return []
    wanted = sorted({int(j) for j in record_state})
    missing = [j for j in wanted if j not in recorded]
    if missing:
        raise ScaLavaError(f"record_state: layer(s) {missing} are not recorded (recorded: "
                           f"{list(recorded)}; record_all=True records every layer)")
    return wanted


def pipeline_depths(spec: NetxSpec) -> list[int]:
    """Step of each neuron layer's reset within a sample window: one synapse
    delay per layer, counted from the first layer (an input layer with a
    neuron takes its drive without a synapse, so it starts at 0)."""
    first = 0 if spec.has_input_neuron else 1
    return [first + i for i in range(len(spec.neuron_layers))]


def check_supported(spec: NetxSpec) -> None:
    """Raise :class:`ScaLavaError` for what the reader admits but this replica
    does not model (nothing today: the reader refuses the rest)."""
    for ly in spec.neuron_layers:
        if ly.kind == "dense" and ly.delay is not None and ly.input_message_bits:
            raise ScaLavaError(f"{spec.path}: layer {ly.index}: synaptic delays on graded input are not modelled")
