"""Test configuration: every check of the theory runs in float64; hypothesis profiles.

Property tests (``tests/test_properties.py``) run under a hypothesis profile:

* ``ci`` (the default): derandomized, so every run draws the same examples; few examples, sized so
  that all property tests together take about a minute on two cores;
* ``long``: random draws and many more examples, for maintainers:
  ``python -m pytest tests/test_properties.py --hypothesis-profile=long``.

Tests scale their own example counts from the active profile's ``max_examples`` (a test that
compiles a new program or runs a slow solver per example takes a fraction of it), so the long
profile lengthens every property test.
"""

import jax
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=12,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=400,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")
