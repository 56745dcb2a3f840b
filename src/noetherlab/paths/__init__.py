"""Most likely paths between two states: fixed time, fixed energy, shooting and continuation."""

from noetherlab.paths._result import PathResult, ResolutionReport
from noetherlab.paths.api import most_likely_path

__all__ = ["PathResult", "ResolutionReport", "most_likely_path"]
