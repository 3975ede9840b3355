"""mnist_course: the small helper every notebook of the course imports.

One module per concern: `files` (MNIST on disk: staging, checksums, reading), `data` (tensors to
batches: splits, augmentation, loaders), `train` (the loop, History, seeds, device), `inspect`
(parameters, receptive fields, rubric), `layers` (a cheaper Dropout mask on the CPU), `plots`,
`course` (fast mode and the results cell), and `atomic` (crash-safe file writes).
"""

import os

# How long idle OpenMP threads spin before they sleep. libgomp's default spin is long, and two
# trainings on two cores then burn the cores each other needs (measured 8.5x slower than running
# them one after the other); sleeping at once (OMP_WAIT_POLICY=PASSIVE, 0.6x) made session 1's
# small layers 25-40% slower alone. 30,000 spins kept every session as fast alone and cut the
# contention to 1.9x (benchmarks/README.md). OpenMP reads this once, when torch loads it, so it only
# takes effect when mnist_course is imported before torch; a setting of your own is kept.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "30000")

from .course import FAST_FLOOR, checkpoint_dir, fast_mode, report, run_times
from .data import Augment, make_loaders
from .digits import prepare_digit
from .files import DataError, load_mnist, stage
from .inspect import check_rubric, count_params, print_layer_table, summary
from .layers import FastDropout
from .lr_finder import lr_find
from .train import History, TrainingError, evaluate, fit, pick_device, predict, seed_everything, trace_schedule

__all__ = [
    "Augment",
    "DataError",
    "History",
    "TrainingError",
    "check_rubric",
    "checkpoint_dir",
    "count_params",
    "evaluate",
    "FAST_FLOOR",
    "FastDropout",
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
    "run_times",
    "seed_everything",
    "stage",
    "summary",
    "trace_schedule",
]
