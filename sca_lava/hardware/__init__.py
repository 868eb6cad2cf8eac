"""Loihi-style hardware budget: profiles (limits and costs as data), core
allocation from a netx file, per-core activity from Lava runs, energy and
latency estimates. See docs/hardware.md."""
