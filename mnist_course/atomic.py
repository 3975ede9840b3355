"""Write files so that a crash or Ctrl-C never leaves a half-written one: temporary name, then rename."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

WINDOWS = sys.platform == "win32"


def _tmp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.tmp")


def replace(tmp: str | Path, path: str | Path, attempts: int = 5) -> None:
    """`os.replace(tmp, path)`, atomic on the same filesystem.

    On Windows a rename fails with PermissionError while another process holds either file open
    (a virus scanner or the search indexer reading the new one, a program keeping the old one open), so
    there it is retried for up to 1.5 seconds before the error is raised; elsewhere it is not retried.
    """
    for attempt in range(1, attempts + 1):
        try:
            os.replace(tmp, path)
            return
        except PermissionError:
            if not WINDOWS or attempt == attempts:
                raise
            time.sleep(0.05 * 2**attempt)


def write_text(path: str | Path, text: str) -> None:
    """Replace `path` with `text` in one step, as UTF-8 whatever the platform's default encoding."""
    path = Path(path)
    tmp = _tmp(path)
    tmp.write_text(text, encoding="utf-8")
    replace(tmp, path)


def save(obj, path: str | Path) -> None:
    """`torch.save` to `path` in one step."""
    path = Path(path)
    tmp = _tmp(path)
    torch.save(obj, tmp)
    replace(tmp, path)
