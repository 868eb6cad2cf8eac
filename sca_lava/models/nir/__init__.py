"""NIR (the Neuromorphic Intermediate Representation) in and out: a traced
lava-dl network as a NIR graph (:mod:`.write`), a NIR file read and checked
(:mod:`.read`), a NIR chain as sca_lava's own lava-dl network in Loihi's
fixed point with the error that conversion makes (:mod:`.build`). The
parameter mapping is :mod:`.mapping`; ``nir`` is imported only here."""

from sca_lava._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "mapping": "DEFAULT_DT",
    "write": "export_nir to_nir",
    "read": "read_nir",
    "build": "import_nir NirImport",
})
