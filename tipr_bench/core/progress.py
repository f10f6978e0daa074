"""One progress-bar layout for every long job: what, bar, count, rate, elapsed, ETA.

Bars draw on stderr, so `--json` output on stdout stays clean.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second. Before rich has enough samples it shows the average so far; work counted
    before a `base` field (answers from a cache, say) is left out of the rate."""

    def __init__(self, unit: str = "items"):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        done = task.completed - task.fields.get("base", 0)
        if speed is None and task.elapsed and done > 0:
            speed = done / task.elapsed
        text = f"-- {self.unit}/s" if speed is None else f"{speed:,.1f} {self.unit}/s"
        return Text(text, style="progress.data.speed")


def progress_columns(unit: str = "items") -> list[ProgressColumn]:
    """`unit="bytes"` counts and rates in bytes (downloads); any other unit is a count of things."""
    count, rate = (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else \
        (MofNCompleteColumn(), RateColumn(unit))
    return [TextColumn("[bold]{task.description}"), BarColumn(), count, rate, TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn()]


def make_progress(enabled: bool = True, unit: str = "items", transient: bool = True,
                  extra: tuple[ProgressColumn, ...] = (), speed_estimate_period: float = 30.0) -> Progress:
    """A bar on stderr; `enabled=False` gives a silent one with the same API."""
    return Progress(*progress_columns(unit), *extra, console=Console(stderr=True), disable=not enabled,
                    transient=transient, speed_estimate_period=speed_estimate_period)
