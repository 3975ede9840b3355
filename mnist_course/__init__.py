"""mnist_course: the small helper every lesson of the course imports.

One module per concern: `files` (MNIST on disk: staging, checksums, reading), `data` (tensors to
batches: splits, augmentation, loaders), `train` (the loop, seeds, device), `history` (what a run
measured), `checkpoints` (save and resume), `cpu` (threads, sharing the cores, memory layout),
`model_info` (parameters, multiply-adds, receptive fields, the rubric), `stats` (Welch, McNemar,
Holm), `plots`, `digits` (your own digits),
`lr_finder` (the learning-rate range test and the schedule's trace), `layers` (a cheaper Dropout mask
on the CPU), `course` (fast mode and the results cell), `experiments` (the committed runs, read-only)
and `atomic` (crash-safe file writes). The course's own machinery lives in `runner/`.
"""

from . import cpu  # noqa: F401, I001  (first: it sets how idle OpenMP threads wait before torch starts)
from .course import FAST_FLOOR, checkpoint_dir, epochs, fast_mode, report
from .data import Augment, make_loaders
from .digits import prepare_digit
from .files import DataError, load_mnist, stage
from .history import History
from .layers import FastDropout
from .lr_finder import lr_find, trace_schedule
from .model_info import check_rubric, count_params, multiply_adds, print_layer_table, summary
from .train import TrainingError, evaluate, fit, pick_device, predict, seed_everything

__all__ = [
    "Augment",
    "DataError",
    "History",
    "TrainingError",
    "check_rubric",
    "checkpoint_dir",
    "count_params",
    "epochs",
    "evaluate",
    "FAST_FLOOR",
    "FastDropout",
    "fast_mode",
    "fit",
    "load_mnist",
    "lr_find",
    "make_loaders",
    "multiply_adds",
    "pick_device",
    "predict",
    "prepare_digit",
    "print_layer_table",
    "report",
    "seed_everything",
    "stage",
    "summary",
    "trace_schedule",
]
