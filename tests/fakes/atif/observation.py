# ruff: noqa  (vendored from harbor 0.26.0; see README.md)
"""Observation model for ATIF trajectories."""

from pydantic import BaseModel, Field

from tests.fakes.atif.observation_result import ObservationResult


class Observation(BaseModel):
    """Environment feedback/result after actions or system events."""

    results: list[ObservationResult] = Field(
        default=...,
        description="Array of result objects from tool calls or actions",
    )

    model_config = {"extra": "forbid"}
