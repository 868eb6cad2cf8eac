"""Deployment of netx files: the real Lava runtime (CPU, fixed point)."""
