"""Test configuration: every check of the theory runs in float64."""

import jax

jax.config.update("jax_enable_x64", True)
