# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mnist-course/mnist-course/blob/main/notebooks/01_fc_baseline.ipynb)
#
# # Session 1 — a plain CNN with a fully connected head
#
# The baseline of the course: four 3×3 convolutions, two max-pools and two fully connected
# layers, **no BatchNorm, no Dropout**. One of the assignments this course grew from trained
# exactly this network (21,844 parameters) and stopped at **98.80%** test accuracy. Here the same
# architecture gets a better *training recipe* — per-sample augmentation and a one-cycle learning
# rate — and that alone is meant to carry it past 99.4% (the results cell at the end says whether it did).
#
# **Target:** ≤ 25,000 parameters, and the *minimum* test accuracy over the last 3 of at most 15
# epochs ≥ 99.4%. We report the final epoch and that minimum, never the best epoch: picking the best
# epoch by looking at the test set is an optimistic number (session 3 shows why).
#
# The model lives in this notebook — it is the lesson. Everything else (data, training loop,
# plots) comes from the small `mnist_course` helper, which you can read in one sitting.

# %%
# NBVAL_IGNORE_OUTPUT
# In Colab, install the course helper first; locally `pip install -e .` already did.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/mnist-course/mnist-course"], check=True)

import mnist_course as mc  # first: it sets how idle threads wait before torch starts them
import torch
from mnist_course import data, plots
from torch import nn

FAST = mc.fast_mode()  # MNIST_COURSE_FAST=1: a 20k-image subset and 2 epochs, for tests and CI
device = mc.pick_device()
print(f"device: {device}, torch {torch.__version__}, fast mode: {FAST}")

# %% [markdown]
# ## Parameters: the knobs of this lesson
#
# Change a value here and run the notebook again (or, without touching the notebook,
# `python -m mnist_course run notebooks/01_fc_baseline.ipynb -p SCHEDULE=step --seeds 1-3`, which
# writes each run to `results/runs/`). The defaults are the recipe of this lesson.

# %% tags=["parameters"]
SEED = 1  # seeds the weights, the shuffling and every augmentation draw
AUGMENT = True  # per-sample random rotation, shift and scale of the training images
SCHEDULE = "onecycle"  # one of: onecycle, step, constant
OPTIMIZER = "sgd"  # one of: sgd, adam
LR = 0.05  # peak (onecycle) or starting (step, constant) learning rate

# %% tags=["sweep"]
# What `python -m mnist_course sweep` runs (full mode): each variant changes the defaults above,
# each over the seeds listed. Results: results/runs/01_fc_baseline/<variant>/seed<N>.json.
SWEEP = {
    "default": [1, 2, 3, 4, 5],
    "AUGMENT=False": [1, 2, 3],
    "SCHEDULE=step": [1, 2, 3],
    "SCHEDULE=constant": [1, 2, 3],
    "OPTIMIZER=adam,LR=0.003": [1, 2, 3],
}

# %%
mc.seed_everything(SEED)

# %% [markdown]
# ## The data
#
# `load_mnist()` finds the four MNIST files in `data/MNIST/raw/` (or copies them from the folder
# in `$MNIST_COURSE_DATA_FROM`, or downloads them), checks each file's MD5 checksum once, and keeps
# the whole dataset in memory as `uint8` tensors: 60,000 training and 10,000 test images of 28×28
# pixels, 55 MB. The normalization constants are *computed* from the training images rather than
# typed in — they are the famous 0.1307 and 0.3081.

# %%
mnist = mc.load_mnist()
mean, std = data.normalization_stats(mnist.train_images)
print(f"train {tuple(mnist.train_images.shape)}, test {tuple(mnist.test_images.shape)}")
print(f"pixel mean {mean:.4f}, std {std:.4f}")
plots.show_samples(mnist.train_images[:24], mnist.train_labels[:24]);

# %% [markdown]
# ## Augmentation: every image, its own random transform
#
# A 98.8% model gets about 120 of the 10,000 test digits wrong, and most of them are digits written
# a little rotated, shifted or squeezed. Showing the network such variants during training teaches
# it that they are the same digit. Each training image gets its **own** random rotation (±8°),
# shift (±5% of the image), and scale (0.95–1.05): `augment_batch` warps the whole batch at once on
# the training device with one affine matrix per image. The padding is the black background, so
# the strokes never touch a grey border.
#
# Why so mild? Augmentation makes the training problem harder, and we only have 15 epochs. In
# development runs of this model and recipe on a 2-core CPU, a stronger setting (±12°, ±8%,
# 0.92–1.08) left the network under-trained: 99.36% as the minimum of the last 3 epochs, against
# 99.47% with the mild one.

# %%
# NBVAL_IGNORE_OUTPUT
augment = data.Augment(degrees=8, translate=0.05, scale=(0.95, 1.05)) if AUGMENT else None
if AUGMENT:
    plots.show_augmentations(mnist.train_images[:3], augment);

# %%
# NBVAL_IGNORE_OUTPUT
BATCH_SIZE = 64  # without BatchNorm, many small steps suit this network better than fewer large ones
EPOCHS = 2 if FAST else 15
train_loader, test_loader = data.make_loaders(
    batch_size=BATCH_SIZE, augment=augment, subset_size=20_000 if FAST else None, device=device, seed=SEED
)
print(f"{train_loader.dataset_size:,} training images in {len(train_loader)} batches; "
      f"{test_loader.dataset_size:,} test images")


# %% [markdown]
# ## The model
#
# | layer | output (C×H×W) | receptive field | parameters | why |
# |---|---|---|---|---|
# | input | 1×28×28 | 1 | – | |
# | conv 3×3, 1→4 | 4×26×26 | 3 | 40 | edges; no padding, so each conv trims 2 pixels |
# | conv 3×3, 4→8 | 8×24×24 | 5 | 296 | simple strokes |
# | max-pool 2×2 | 8×12×12 | 6 | 0 | halve the map: later 3×3 kernels now step 2 input pixels (jump 2) |
# | conv 3×3, 8→16 | 16×10×10 | 10 | 1,168 | stroke combinations |
# | conv 3×3, 16→32 | 32×8×8 | 14 | 4,640 | parts of digits |
# | max-pool 2×2 | 32×4×4 | 16 | 0 | jump 4 |
# | flatten → FC 512→30 | 30 | 28 | **15,390** | every output sees the whole image |
# | FC 30→10 | 10 | 28 | 310 | one score (logit) per digit |
#
# Receptive field grows by (k − 1) × jump for each k×k layer: 3×3 convs add 2 × jump, a 2×2 pool
# adds 1 × jump and doubles the jump. After the convolutions each of the 4×4 positions sees a
# 16×16 patch — enough for a stroke, not a whole digit — so the fully connected layer combines
# them. That FC layer holds **70% of all parameters**: remember that for session 2.
#
# The network returns raw scores (logits). The helper's loss is `cross_entropy`, which applies
# `log_softmax` itself; it would give the very same loss if the model ended in `log_softmax`.

# %%
class FCBaseline(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.ReLU(),    # 26x26, RF 3
            nn.Conv2d(4, 8, 3), nn.ReLU(),    # 24x24, RF 5
            nn.MaxPool2d(2),                  # 12x12, RF 6
            nn.Conv2d(8, 16, 3), nn.ReLU(),   # 10x10, RF 10
            nn.Conv2d(16, 32, 3), nn.ReLU(),  # 8x8,   RF 14
            nn.MaxPool2d(2),                  # 4x4,   RF 16
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 30), nn.ReLU(), nn.Linear(30, 10))

    def forward(self, x):
        return self.head(self.features(x))


model = FCBaseline().to(device)

# %% [markdown]
# The helper checks the table above from the model itself: output size, parameters, receptive
# field (RF) and jump of every layer, then torchsummary's view, then the session's rubric.

# %%
# NBVAL_CHECK_OUTPUT
mc.print_layer_table(model)

# %%
# NBVAL_CHECK_OUTPUT
mc.summary(model)

# %%
# NBVAL_CHECK_OUTPUT
MAX_PARAMS = 25_000
print(mc.check_rubric(model, max_params=MAX_PARAMS, require=("no_batchnorm", "no_dropout", "fc")))

# %% [markdown]
# ## Training recipe
#
# * **SGD with Nesterov momentum**, a small weight decay (1e-4), batches of 64 (938 updates
#   per epoch).
# * **One-cycle learning rate**: warm up from `LR`/25 to `LR` over the first 25% of the
#   batches, then anneal to almost zero. OneCycleLR also moves the momentum the other way, from
#   0.95 down to 0.85 at the peak rate and back up (`cycle_momentum=True`, its default), so the
#   momentum of 0.9 given to SGD is overridden. (The seed assignment trained this architecture
#   with SGD at 0.01 and a StepLR schedule and stopped at 98.80%; `SCHEDULE = "step"` runs that
#   schedule.)
# * The scheduler is stepped **after every batch** (`fit` knows OneCycleLR is per batch; StepLR
#   steps once per epoch).
#
# `fit` prints one line per epoch, keeps the best weights and a resumable checkpoint in
# `checkpoints/01_fc_baseline/`, and returns a `History`. Press the stop button and it returns what it
# has; `resume=True` continues from the checkpoint.

# %%
# NBVAL_IGNORE_OUTPUT
if OPTIMIZER == "sgd":
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=True, weight_decay=1e-4)
else:
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
if SCHEDULE == "onecycle":  # also cycles SGD's momentum (Adam's beta1) from 0.95 down to 0.85 and back
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LR, epochs=EPOCHS, steps_per_epoch=len(train_loader), pct_start=0.25
    )
elif SCHEDULE == "step":  # the seed assignment's schedule: a tenth of the rate every 5 epochs
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.1)
else:
    scheduler = None
history = mc.fit(
    model, train_loader, test_loader, EPOCHS, optimizer, scheduler,
    device=device, target_acc=0.994, checkpoint_dir=mc.checkpoint_dir("01_fc_baseline"),
)

# %%
# NBVAL_IGNORE_OUTPUT
print(history)
plots.plot_history(history, title="Session 1: FC baseline");

# %% [markdown]
# ## What does it get wrong?
#
# The misclassified test digits, highest loss first (title: true → predicted), and the confusion
# matrix. Many of the errors are digits a person would hesitate on too.

# %%
# NBVAL_IGNORE_OUTPUT
predictions = mc.predict(model, test_loader, device)
plots.show_misclassified(predictions);

# %%
# NBVAL_IGNORE_OUTPUT
plots.plot_confusion(predictions);

# %% [markdown]
# ## Shifted digits
#
# Augmentation is meant to make the network robust to digits written a little rotated or off
# centre. To measure that, the same 10,000 test digits are rotated by exactly ±15° or shifted by
# exactly ±3 pixels along each axis (the signs are random but fixed by a seed, so every run sees
# the same images). Compare runs with `AUGMENT=True` and `AUGMENT=False` (see `results/runs/`).

# %%
# NBVAL_IGNORE_OUTPUT
def accuracy_on(images):
    loader = data.TensorLoader(images, mnist.test_labels, 1000, train_loader.mean, train_loader.std, device=device)
    return mc.evaluate(model, loader, device)[1]


shift_robustness = {
    "clean": accuracy_on(mnist.test_images),
    "rotated_15": accuracy_on(data.shifted(mnist.test_images, degrees=15)),
    "shifted_3px": accuracy_on(data.shifted(mnist.test_images, pixels=3)),
}
for name, acc in shift_robustness.items():
    print(f"{name:<12} {acc:.2%}")

# %% [markdown]
# ## Results

# %%
# NBVAL_IGNORE_OUTPUT
results = mc.report(
    "01_fc_baseline", model, history, max_params=MAX_PARAMS, target_acc=0.994, device=device,
    extra={"shift_robustness": shift_robustness},
)
if FAST:
    assert results["passed"], "fast mode must still clear its sanity floor"

# %% [markdown]
# ## What next
#
# The recipe carried a plain network a long way, but look at where the parameters sit: 15,390 of
# 21,844 are in one fully connected layer that only *mixes* the 4×4 map of features. Session 2
# replaces it with **global average pooling** (zero parameters), adds **BatchNorm** so the network
# trains fast at higher learning rates, and **Dropout** against overfitting — and has to hold the
# accuracy with under 10,000 parameters.
