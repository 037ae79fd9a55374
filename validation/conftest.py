import os

from hypothesis import HealthCheck, settings

# The same profiles as tests/: a fast default for CI, `--hypothesis-profile=thorough`
# (or LOCALINF_HYPOTHESIS_PROFILE=thorough) for release checks.
settings.register_profile("default", max_examples=8, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("LOCALINF_HYPOTHESIS_PROFILE", "default"))
