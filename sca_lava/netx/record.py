"""One spike record for every simulator of a netx network.

The Lava runner, the fixed-point evaluator (and SLAYER, through the same
layout) all return a :class:`SpikeRecord`; the hardware budget and the
agreement checks take one. It lives beside the reader because it describes a
run of a netx file and must not pull in torch or Lava.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sca_lava.netx.reader import NetxSpec


@dataclass
class SpikeRecord:
    """Spikes (or graded payloads) per neuron layer in SLAYER layout:
    (N, C, H, W, T) or (N, F, T), keyed by position among neuron layers.

    ``input`` is what the first neuron layer received (None when the network
    was driven some other way, e.g. through its input layer's bias);
    ``source`` names the simulator ("lava", "fixed-point", "slayer").
    """

    spec: NetxSpec
    layer_spikes: dict[int, np.ndarray]
    seconds: float
    source: str = "lava"
    input: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def output(self) -> np.ndarray:
        return self.layer_spikes[len(self.spec.neuron_layers) - 1]

    @property
    def complete(self) -> bool:
        """Every neuron layer was recorded (what the budget needs)."""
        return len(self.layer_spikes) == len(self.spec.neuron_layers)

    def predictions(self) -> np.ndarray:
        """Class = output neuron with the most spikes (ties: lowest index)."""
        out = self.output
        return out.reshape(out.shape[0], out.shape[1], -1).sum(-1).argmax(1)
