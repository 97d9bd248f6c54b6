"""Every hypothesis property runs derandomized: the same examples on every run and in CI, so
a failure is reproduced by running again, and a green run means the same thing each time."""

from hypothesis import settings

settings.register_profile("wachannel", derandomize=True, print_blob=True)
settings.load_profile("wachannel")
