"""Imported once by the server that the local pool's worker processes fork from: every import
a trial needs (nncli, NumPy, scikit-learn) is paid here, once for all workers."""

from nncli import runner
from nncli.sweep import worker  # noqa: F401

runner.preload()
