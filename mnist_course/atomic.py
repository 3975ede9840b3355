"""Write files so that a crash or Ctrl-C never leaves a half-written one: temporary name, then rename."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def _tmp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.tmp")


def write_text(path: str | Path, text: str) -> None:
    """Replace `path` with `text` in one step (os.replace is atomic on the same filesystem)."""
    path = Path(path)
    tmp = _tmp(path)
    tmp.write_text(text)
    os.replace(tmp, path)


def save(obj, path: str | Path) -> None:
    """`torch.save` to `path` in one step."""
    path = Path(path)
    tmp = _tmp(path)
    torch.save(obj, tmp)
    os.replace(tmp, path)
