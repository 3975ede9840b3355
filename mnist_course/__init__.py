"""mnist_course: the small helper every notebook of the course imports.

One module per concern: `data` (files, loaders, augmentation), `train` (the loop, History,
seeds, device), `inspect` (parameters, receptive fields, rubric), `plots`, `course`
(fast mode and the results cell), and `atomic` (crash-safe file writes).
"""

from .course import fast_mode, report
from .data import Augment, DataError, load_mnist, make_loaders, stage
from .inspect import check_rubric, count_params, print_layer_table, summary
from .train import History, TrainingError, evaluate, fit, pick_device, predict, seed_everything

__all__ = [
    "Augment",
    "DataError",
    "History",
    "TrainingError",
    "check_rubric",
    "count_params",
    "evaluate",
    "fast_mode",
    "fit",
    "load_mnist",
    "make_loaders",
    "pick_device",
    "predict",
    "print_layer_table",
    "report",
    "seed_everything",
    "stage",
    "summary",
]
