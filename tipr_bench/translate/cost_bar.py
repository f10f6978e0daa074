"""The cost-and-progress bar of a translation run: items done, rate, ETA and the money spent so far.

It is updated once per write batch, not per item, so it costs nothing measurable. It draws on
stderr so that `--json` output on stdout stays clean.
"""

from __future__ import annotations

from rich.progress import ProgressColumn, Task
from rich.text import Text

from tipr_bench.core.progress import make_progress


class _CostColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"${task.fields.get('cost', 0.0):,.4f}", style="green")


class RunProgress:
    def __init__(self, total: int, description: str = "translate"):
        self._progress = make_progress(transient=False, extra=(_CostColumn(),), speed_estimate_period=20.0)
        self._task = self._progress.add_task(description, total=total, cost=0.0)

    def start(self) -> None:
        self._progress.start()

    def restart_clock(self) -> None:
        """Keep the count but restart rate and ETA: items answered from the cache at the start took no
        time and would make the ETA of the real work absurdly optimistic."""
        task = self._progress.tasks[0]
        self._progress.reset(self._task, completed=task.completed, cost=task.fields.get("cost", 0.0),
                             base=task.completed)

    def advance(self, items: int, cost: float) -> None:
        self._progress.update(self._task, advance=items, cost=cost)

    def stop(self) -> None:
        self._progress.stop()
