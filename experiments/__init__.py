"""Reproducible experiments built on ``ufm``: the figures of the theory section."""
