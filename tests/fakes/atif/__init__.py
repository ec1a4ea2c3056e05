# ruff: noqa  (vendored from harbor 0.26.0; see README.md)
"""Pydantic models for Agent Trajectory Interchange Format (ATIF).

This module provides Pydantic models for validating and constructing
trajectory data following the ATIF specification (RFC 0001).
"""

from tests.fakes.atif.agent import Agent
from tests.fakes.atif.content import (
    AudioSource,
    ContentPart,
    ImageSource,
)
from tests.fakes.atif.final_metrics import FinalMetrics
from tests.fakes.atif.metrics import Metrics
from tests.fakes.atif.observation import Observation
from tests.fakes.atif.observation_result import ObservationResult
from tests.fakes.atif.step import Step
from tests.fakes.atif.subagent_trajectory_ref import SubagentTrajectoryRef
from tests.fakes.atif.tool_call import ToolCall
from tests.fakes.atif.trajectory import Trajectory

__all__ = [
    "Agent",
    "AudioSource",
    "ContentPart",
    "FinalMetrics",
    "ImageSource",
    "Metrics",
    "Observation",
    "ObservationResult",
    "Step",
    "SubagentTrajectoryRef",
    "ToolCall",
    "Trajectory",
]
