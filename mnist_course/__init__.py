"""mnist_course: the small helper every notebook of the course imports.

One module per concern: `data` (files, loaders, augmentation), `train` (the loop, History,
seeds, device), `inspect` (parameters, receptive fields, rubric), `plots`, `course`
(fast mode and the results cell), and `atomic` (crash-safe file writes).
"""

import os

# Idle OpenMP threads sleep instead of spinning. With spinning (the default), two trainings on two
# cores each burn the cores the other needs: measured 8.5x slower than running them one after the
# other; with PASSIVE 0.6x, and no slower alone (benchmarks/README.md). OpenMP reads this once, when
# torch loads it, so it only takes effect if mnist_course is imported before torch (or the
# variable is set in the environment); an explicit setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .course import checkpoint_dir, fast_mode, report
from .data import Augment, DataError, load_mnist, make_loaders, stage
from .digits import prepare_digit
from .inspect import check_rubric, count_params, print_layer_table, summary
from .lr_finder import lr_find
from .train import History, TrainingError, evaluate, fit, pick_device, predict, seed_everything

__all__ = [
    "Augment",
    "DataError",
    "History",
    "TrainingError",
    "check_rubric",
    "checkpoint_dir",
    "count_params",
    "evaluate",
    "fast_mode",
    "fit",
    "load_mnist",
    "lr_find",
    "make_loaders",
    "pick_device",
    "predict",
    "prepare_digit",
    "print_layer_table",
    "report",
    "seed_everything",
    "stage",
    "summary",
]
