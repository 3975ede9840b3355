"""`History`: the per-epoch metrics of a run, what `fit` returns and the plots and results read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import atomic


@dataclass
class History:
    """Per-epoch metrics of a run: prints as a table, saves to and loads from JSON."""

    epochs: list[dict] = field(default_factory=list)
    eval_name: str = "test"  # what the evaluation set is: "test" or "val"
    interrupted: bool = False
    target_epoch: int | None = None  # first epoch whose evaluation accuracy reached the target

    def column(self, name: str) -> list[float]:
        return [row[name] for row in self.epochs]

    @property
    def final_acc(self) -> float:
        """Evaluation accuracy of the last epoch (a fraction)."""
        return self.epochs[-1]["eval_acc"]

    def min_last(self, k: int = 3) -> float:
        """Lowest evaluation accuracy over the last k epochs: a figure not picked on the test set."""
        return min(self.column("eval_acc")[-k:])

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            atomic.write_text(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> History:
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text()
        return cls(**json.loads(text))

    def __str__(self) -> str:
        e = self.eval_name
        lines = [f"epoch  train_loss  train_acc  {e}_loss  {e}_acc        lr  seconds"]
        for r in self.epochs:
            lines.append(
                f"{r['epoch']:>5}  {r['train_loss']:>10.4f}  {r['train_acc']:>9.2%}  "
                f"{r['eval_loss']:>{len(e) + 5}.4f}  {r['eval_acc']:>{len(e) + 4}.2%}  "
                f"{r['lr']:>8.5f}  {r['seconds']:>7.1f}"
            )
        if self.interrupted:
            lines.append("(interrupted)")
        return "\n".join(lines)
