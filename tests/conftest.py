import os

from hypothesis import HealthCheck, settings

# Fast default for CI, derandomised so that a run is reproducible (the same examples every
# time); `LOCALINF_HYPOTHESIS_PROFILE=thorough` draws 150 fresh examples per property.
settings.register_profile("default", max_examples=8, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("LOCALINF_HYPOTHESIS_PROFILE", "default"))
