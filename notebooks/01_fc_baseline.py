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
# such a network (4 and 8 channels in its first block, 21,844 parameters) and reported **98.80%**
# test accuracy (its log shows 12 of the 20 epochs it was set up for, the last at 98.82%). That run
# already augmented its images (random rotations of ±15° and an occasional crop) and used SGD at
# 0.01 with a StepLR schedule. Here the same layout gets a
# different *training recipe* — milder per-sample augmentation, a one-cycle learning rate, label
# smoothing, 15 epochs — and a first block twice as wide (8 and 16 channels, 23,908 parameters).
# Which part of the recipe does the work is measured below, one change at a time, over several
# random seeds; the last section shows how the wider block and the label smoothing were chosen, on a
# validation split, after the assignment's network with the rest of this recipe cleared the target
# in only 3 of 5 random seeds.
#
# **Target:** ≤ 25,000 parameters, and the *minimum* test accuracy over the last 3 of at most 15
# epochs ≥ 99.4%. We report the final epoch and that minimum, never the best epoch: picking the best
# epoch by looking at the test set is an optimistic number (session 3 shows why). One run is one
# random seed; the course asks a recipe to pass in at least 9 of 10 seeds, so that a student's own
# run passes too.
#
# The model lives in this notebook — it is the lesson. Everything else (data, training loop,
# plots) comes from the small `mnist_course` helper, which you can read in one sitting.

# %% tags=["nbval-ignore-output"]
# In Colab, fetch the course first (the helper, and the committed runs the lesson's tables read);
# locally `pip install -e .` already did.
import os
import subprocess
import sys

if "google.colab" in sys.modules and not os.path.isdir("mnist-course"):
    subprocess.run("git clone https://github.com/mnist-course/mnist-course --depth 1 --quiet", shell=True, check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "./mnist-course"], check=True)

import mnist_course as mc  # first: it sets torch's CPU options before torch starts
import torch
from mnist_course import data, experiments, plots
from torch import nn

device = mc.pick_device()
print(f"device: {device}, torch {torch.__version__}, fast mode: {mc.fast_mode()}")  # MNIST_COURSE_FAST=1: 20k images, 2 epochs

# %% [markdown]
# ## Parameters: the knobs of this lesson
#
# Change a value here and run the notebook again (or, without touching the notebook,
# `python -m mnist_course run notebooks/01_fc_baseline.ipynb -p SCHEDULE=step --seeds 1-3`, which
# writes each run to `results/runs/`). The defaults are the recipe of this lesson. The same seed
# on the same computer repeats a run exactly; on another computer the arithmetic runs in a slightly
# different order, the whole trajectory changes, and the final accuracy moves by a few hundredths
# of a point: your run is, in effect, another seed.

# %% tags=["parameters"]
SEED = 1  # seeds the weights, the shuffling and every augmentation draw
AUGMENT = True  # per-sample random rotation, shift and scale of the training images
SCHEDULE = "onecycle"  # one of: onecycle, step, constant, plateau
OPTIMIZER = "sgd"  # one of: sgd, adam
LR = 0.05  # peak (onecycle), starting (step, plateau) or only (constant) rate; Adam wants ~0.003
WEIGHT_DECAY = 1e-4  # L2 penalty on the weights, for SGD and Adam alike
LABEL_SMOOTHING = 0.1  # share of each target's probability spread evenly over all ten digits
VAL_SPLIT = False  # train on 50,000 images and evaluate on 10,000 held-out ones: for choosing a recipe
FIRST_CHANNELS = 8  # channels of the first convolution, the second has twice as many; the seed had 4
RECIPE = "course"  # "seed": the seed assignment's optimizer, rate, schedule, batch, augmentation; one of: course, seed

# %% [markdown]
# **Exercise.** Set `AUGMENT = False` and run the whole notebook again (the results table of the
# course's README gives the measured time of a full run). Before you run it, write down what you expect for the clean test accuracy and for the rotated and shifted test
# digits near the end. Then compare with the table of several seeds in "Shifted digits": one run is
# one sample. Try `SCHEDULE = "constant"` next and look at the last epochs of the accuracy curve.

# %%
if RECIPE == "seed":  # the seed assignment's recipe (its 20 epochs capped at the course's 15), measured below
    SCHEDULE, OPTIMIZER, LR, WEIGHT_DECAY, LABEL_SMOOTHING = "step", "sgd", 0.01, 0.0, 0.0
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
# A 98.8% model gets about 120 of the 10,000 test digits wrong, and many handwritten digits are
# written a little rotated, shifted or squeezed. Showing the network such variants during training
# teaches it that they are the same digit. Each training image gets its **own** random rotation (±8°),
# shift (±5% of the image), and scale (0.95–1.05): `augment_batch` warps the whole batch at once on
# the training device with one affine matrix per image. The padding is the black background, so
# the strokes never touch a grey border.
#
# Why so mild? Augmentation makes the training problem harder, and we only have 15 epochs. While
# this notebook was developed, a stronger setting (±12°, ±8%, 0.92–1.08) was tried in one run and
# not kept; that run was not saved, so no number in this notebook backs the choice. Be clear about
# what it was: a choice made by looking at **test** accuracy, exactly the habit session 3 warns
# against.
# The honest way is to choose on a validation split (`VAL_SPLIT`): the last section of this lesson
# compares augmentation on and off that way, and the tables measure it over several seeds.

# %% tags=["nbval-ignore-output"]
augment = data.Augment(degrees=8, translate=0.05, scale=(0.95, 1.05)) if AUGMENT else None
if RECIPE == "seed":  # rotation up to 15°, and for 1 image in 10 a centre crop of 22 pixels resized to 28
    augment = data.Augment(degrees=15, zoom=28 / 22, zoom_p=0.1)
if AUGMENT:
    plots.show_augmentations(mnist.train_images[:3], augment);

# %% tags=["nbval-ignore-output"]
BATCH_SIZE = 128 if RECIPE == "seed" else 64  # session 2 measures 64 against 128 on its model
EPOCHS = mc.epochs(15)
train_loader, test_loader = data.make_loaders(
    batch_size=BATCH_SIZE, augment=augment, device=device, seed=SEED,
    val_size=10_000 if VAL_SPLIT else None,
)
eval_name = "val" if VAL_SPLIT else "test"  # what test_loader holds
print(f"{train_loader.dataset_size:,} training images in {len(train_loader)} batches; "
      f"{test_loader.dataset_size:,} {eval_name} images")


# %% [markdown]
# ## The model
#
# | layer | output (C×H×W) | receptive field | parameters | why |
# |---|---|---|---|---|
# | input | 1×28×28 | 1 | – | |
# | conv 3×3, 1→8 | 8×26×26 | 3 | 80 | edges; no padding, so each conv trims 2 pixels |
# | conv 3×3, 8→16 | 16×24×24 | 5 | 1,168 | simple strokes |
# | max-pool 2×2 | 16×12×12 | 6 | 0 | halve the map: later 3×3 kernels now step 2 input pixels (jump 2) |
# | conv 3×3, 16→16 | 16×10×10 | 10 | 2,320 | stroke combinations |
# | conv 3×3, 16→32 | 32×8×8 | 14 | 4,640 | parts of digits |
# | max-pool 2×2 | 32×4×4 | 16 | 0 | jump 4 |
# | flatten → FC 512→30 | 30 | 28 | **15,390** | every output sees the whole image |
# | FC 30→10 | 10 | 28 | 310 | one score (logit) per digit |
#
# Receptive field grows by (k − 1) × jump for each k×k layer: 3×3 convs add 2 × jump, a 2×2 pool
# adds 1 × jump and doubles the jump. After the convolutions each of the 4×4 positions sees a
# 16×16 patch — enough for a stroke, not a whole digit — so the fully connected layer combines
# them. That FC layer holds **64% of all parameters**: remember that for session 2.
#
# The seed's network had half these channels in the first block (4 and 8: 21,844 parameters, 70% of
# them in the FC layer); `FIRST_CHANNELS = 4` builds it again. The first block is where the maps are
# largest, so doubling it costs few parameters (+2,064, about half of them in the third
# convolution, whose input doubles) but most of the computation: a 3×3 kernel is applied at every
# position of its map, so `mc.multiply_adds(model)` (printed with the layer table below) counts
# 1,253,196 multiply-adds per image for this network against 615,996 for the seed's
# (`FIRST_CHANNELS = 4`): twice the work for 9% more parameters.
#
# The network returns raw scores (logits). The helper's loss is `cross_entropy`, which applies
# `log_softmax` itself; it would give the very same loss if the model ended in `log_softmax`.

# %% tags=["model"]
class FCBaseline(nn.Module):
    def __init__(self, c1=FIRST_CHANNELS):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3), nn.ReLU(),           # 26x26, RF 3
            nn.Conv2d(c1, 2 * c1, 3), nn.ReLU(),      # 24x24, RF 5
            nn.MaxPool2d(2),                          # 12x12, RF 6
            nn.Conv2d(2 * c1, 16, 3), nn.ReLU(),      # 10x10, RF 10
            nn.Conv2d(16, 32, 3), nn.ReLU(),          # 8x8,   RF 14
            nn.MaxPool2d(2),                          # 4x4,   RF 16
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 30), nn.ReLU(), nn.Linear(30, 10))

    def forward(self, x):
        return self.head(self.features(x))


model = FCBaseline().to(device)

# %% [markdown]
# The helper checks the table above from the model itself: output size, parameters, receptive
# field (RF) and jump of every layer, then torchsummary's view, then the session's rubric.

# %% tags=["nbval-check-output"]
mc.print_layer_table(model)

# %% tags=["nbval-check-output"]
mc.summary(model)
print(f"multiply-adds per image: {mc.multiply_adds(model):,}")

# %% [markdown]
# **The receptive fields, drawn.** Each box is what the centre unit of one convolution sees of a
# test digit, from the RF and jump columns of the layer table: 14×14 pixels after the last one
# (16×16 after the pool that follows), a stroke or two but not the whole digit. Only the fully
# connected layer sees it all.

# %% tags=["nbval-ignore-output"]
plots.show_receptive_fields(mnist.test_images[0], model);

# %% tags=["nbval-check-output"]
MAX_PARAMS = 25_000
print(mc.check_rubric(model, max_params=MAX_PARAMS, require=("no_batchnorm", "no_dropout", "fc")))

# %% [markdown]
# ### Check yourself: two counts by hand
#
# Replace each `None` with your answer and run the cell: it checks your number against the helper,
# which measures it on a model. (Left as `None`, the cell checks nothing.)
#
# 1. The second max-pool shrinks the 8×8 maps to 4×4 before the fully connected layer. Without it,
#    how many parameters would the layer `FC → 30` have?
# 2. Without the *first* max-pool (the second one kept), what would the receptive field of the last
#    3×3 convolution be?

# %%
from mnist_course.model_info import layer_table

fc_params_without_second_pool = None  # your answer to 1
rf_without_first_pool = None  # your answer to 2

if fc_params_without_second_pool is not None:
    measured = mc.count_params(nn.Linear(32 * 8 * 8, 30))
    assert fc_params_without_second_pool == measured, "count one weight per input and output, plus one bias per output"
    print(f"1. right: {measured:,} parameters, {measured / 15_390:.0f}x the layer with the pool")
if rf_without_first_pool is not None:
    no_first_pool = nn.Sequential(*[layer for i, layer in enumerate(FCBaseline().features) if i != 4])
    measured = [row.rf for row in layer_table(no_first_pool) if row.kind == "Conv2d"][-1]
    assert rf_without_first_pool == measured, "without the pool the jump stays 1: each 3x3 adds 2 pixels"
    print(f"2. right: a receptive field of {measured} pixels")

# %% [markdown]
# <details><summary>Solutions</summary>
#
# 1. The layer would see 32 × 8 × 8 = 2,048 numbers instead of 512: 2,048 × 30 weights + 30
#    biases = **61,470** parameters, four times the 15,390 of the layer with the pool, and the whole
#    model would be far over the 25,000 budget. Pooling before a fully connected layer is what
#    keeps it affordable.
# 2. With no pool the jump stays 1, so each of the four 3×3 convolutions adds 2 pixels:
#    1 + 4 × 2 = **9** instead of 14. The pool's jump is what lets later 3×3 kernels see far.
#
# </details>

# %% [markdown]
# ## Training recipe
#
# * **SGD with Nesterov momentum**, a small weight decay (1e-4), batches of 64 (938 updates
#   per epoch).
# * **One-cycle learning rate**: warm up from `LR`/25 to `LR` over the first 25% of the
#   batches, then anneal to almost zero. OneCycleLR also moves the momentum the other way, from
#   0.95 down to 0.85 at the peak rate and back up (`cycle_momentum=True`, its default), so the
#   momentum of 0.9 given to SGD is overridden: the chart after training shows both.
# * The scheduler is stepped **after every batch** (`fit` knows OneCycleLR is per batch; StepLR
#   steps once per epoch).
# * **Label smoothing 0.1**: the loss's target for an image is not "100% this digit" but 91% this
#   digit (90% + 1%) and 1% each of the other nine (0.1 spread evenly over all ten), so the network is never pushed to make its
#   scores ever more extreme on images it already gets right. `fit` passes it to `cross_entropy`
#   for training, so the training loss it reports never reaches zero; the test loss is the plain one.
#   Its floor is the entropy of the smoothed target, −(0.91 ln 0.91 + 9 × 0.01 ln 0.01) ≈ 0.50: a
#   network that matched every target exactly would still report 0.50. That is why the training
#   loss below stays above 0.5 while the test loss (no smoothing, clean images) is far lower.
#
# The other choices of the parameters cell, each a classic:
#
# * `SCHEDULE = "step"`: **StepLR**, the schedule the seed assignment used — a tenth of the rate
#   every 5 epochs (here from this notebook's `LR`, not the seed's 0.01).
# * `SCHEDULE = "constant"`: no schedule at all.
# * `SCHEDULE = "plateau"`: **ReduceLROnPlateau** — a tenth of the rate after 3 epochs in a row
#   without a better evaluation loss (`patience=2` tolerates two). It reacts to the run instead
#   of following a plan, but it reacts to the evaluation set (use a validation split with it, as
#   session 3 explains). Not in the sweep: try it.
# * `OPTIMIZER = "adam"`: **Adam** keeps a running average of each weight's gradient (its
#   momentum) and of the squared gradient, and divides the step by the square root of the latter, so
#   every weight gets its own step size. It usually needs a much smaller rate than SGD (the sweep
#   uses 0.003); OneCycleLR cycles its first beta as it cycles SGD's momentum.
# * **Gradient clipping** (`mc.fit(..., clip_grad_norm=1.0)`) caps the length of the gradient
#   vector before each step. This network trains without it; it is the first thing to try when a
#   loss turns NaN (`fit` stops with that advice when it happens).
#
# `fit` prints one line per epoch, keeps the weights of the best epoch (chosen on *test* accuracy
# here, so only for inspection: session 3 explains) and a resumable checkpoint in
# `checkpoints/01_fc_baseline/`, and returns a `History`. Press the stop button and it returns what it
# has; `resume=True` continues from the checkpoint.

# %% tags=["nbval-ignore-output"]
if OPTIMIZER == "sgd":
    nesterov = RECIPE != "seed"  # the seed used plain momentum
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=nesterov, weight_decay=WEIGHT_DECAY)
else:
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
if SCHEDULE == "onecycle":  # also cycles SGD's momentum (Adam's beta1) from 0.95 down to 0.85 and back
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LR, epochs=EPOCHS, steps_per_epoch=len(train_loader), pct_start=0.25
    )
elif SCHEDULE == "step":  # the seed assignment's schedule: a tenth of the rate every 5 epochs
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.1)
elif SCHEDULE == "plateau":  # a tenth of the rate after 3 epochs without a better evaluation loss
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=2)
else:
    scheduler = None
schedule = mc.trace_schedule(optimizer, scheduler, EPOCHS, len(train_loader))  # the rates fit will use
history = mc.fit(
    model, train_loader, test_loader, EPOCHS, optimizer, scheduler,
    device=device, target_acc=0.994, checkpoint_dir=mc.checkpoint_dir("01_fc_baseline"), eval_name=eval_name,
    label_smoothing=LABEL_SMOOTHING,
)

# %% tags=["nbval-ignore-output"]
print(history)
plots.plot_history(history, title="Session 1: FC baseline");

# %% [markdown]
# ### The learning rate and momentum behind the curve
#
# The same test accuracy, zoomed to where the action is, above the learning rate and momentum of
# every step (for `SCHEDULE = "plateau"` the chart can only show the starting rate: its cuts depend
# on the run; the `lr` column of the history table has them). During the warm-up (the first
# quarter of the steps) the rate climbs to its peak and the momentum drops to 0.85. Around the peak
# — the end of the warm-up and the epochs right after it — the steps are at their largest, and the
# accuracy can stall or dip between epochs: find the epochs where it does in the chart and read the
# rate under them. Once the rate anneals, each
# step is smaller than the last, and the accuracy moves less from epoch to epoch — that is why the
# last epochs are the ones worth reporting. (With `SCHEDULE = "step"` the
# rate falls in two cliffs; with `"constant"` it never falls.)

# %% tags=["nbval-ignore-output"]
plots.plot_schedule(history, schedule, steps_per_epoch=len(train_loader));

# %% [markdown]
# ### Check yourself: label smoothing's floor
#
# The training loss above cannot fall below 0.50 because of label smoothing 0.1. With
# `LABEL_SMOOTHING = 0.2`, what is the lowest training loss a network could report? Replace `None`
# and run the cell: it measures the loss of a network whose scores match the smoothed target
# exactly.

# %%
floor_at_0_2 = None  # your answer, to two decimals

if floor_at_0_2 is not None:
    smoothed = torch.full((1, 10), 0.2 / 10)
    smoothed[0, 0] += 0.8  # 0.8 + 0.02 on the right digit, 0.02 on each of the nine others
    measured = nn.functional.cross_entropy(smoothed.log(), torch.tensor([0]), label_smoothing=0.2).item()
    assert abs(floor_at_0_2 - measured) < 0.01, "the entropy of the smoothed target: -sum(q ln q) over the ten digits"
    print(f"right: {measured:.3f}")

# %% [markdown]
# <details><summary>Solution</summary>
#
# The smoothed target puts 0.8 + 0.02 = 0.82 on the right digit and 0.02 on each of the other
# nine; its entropy is −(0.82 ln 0.82 + 9 × 0.02 ln 0.02) ≈ 0.163 + 0.704 = **0.87**. Twice the
# smoothing raises the floor from 0.50 to 0.87: the reported training loss says as much about the
# smoothing as about the network.
#
# </details>

# %% [markdown]
# ## What did each part of the recipe buy?
#
# **Predict first.** Which of these costs this network the most accuracy: training without
# augmentation, the seed's StepLR schedule instead of one-cycle, a constant rate, or Adam instead
# of SGD? And can these seeds tell any of them apart from the default? The last row is the seed's network with this
# recipe minus label smoothing: the previous default of this notebook (the last section says why
# it changed).
#
# The table reads the sweep's runs of this notebook (`python -m mnist_course sweep`, full mode:
# 60,000 training images, 15 epochs, each variant over several seeds), nothing typed. How to read
# it: the ± after each mean is the spread between seeds. The "vs default" column is the difference
# of the mean min-of-last-3 accuracies, in points, with its 95% confidence interval from **Welch's
# t-test** over the seeds; "p (Holm)" is that test's p-value corrected for testing five variants
# at once (Holm's method: with five comparisons, one of them would often look "significant" by
# chance). Every run is scored on the same 10,000 test digits, so the test set's own sampling
# error (about 0.08 points near 99.4%) is shared by all rows and cancels in a difference: what the
# test compares is the spread between seeds. With 3 seeds of a variant the t distribution has about 2–3
# degrees of freedom and heavy tails, so a difference needs to be several times its standard error
# before p drops below 5%.

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("01_fc_baseline", {
    "AUGMENT=False": "no augmentation",
    "SCHEDULE=step": "StepLR, a tenth every 5 epochs",
    "SCHEDULE=constant": "no schedule",
    "OPTIMIZER=adam,LR=0.003": "Adam at 0.003, one-cycle",
    "FIRST_CHANNELS=4,LABEL_SMOOTHING=0.0": "the seed's network, no label smoothing",
})
plots.plot_comparison(comparison, title="the recipe, on the test set")
comparison

# %% [markdown]
# <details><summary>Answer</summary>
#
# The constant rate costs the most: −0.20 points (95% interval −0.33 to −0.07), 0 of 3 seeds pass.
# Its interval lies furthest below zero, yet after Holm's correction for five comparisons its p is
# 0.094: with three seeds of each variant, none of the five is distinguishable from the default.
# Adam is level with the default (+0.02).
#
# </details>
#
# Read the default row first: "passed" says in how many seeds this very notebook clears the target,
# so one run above or below 99.4% tells you little on its own. A variant with fewer seeds than
# the default has a wider interval. Every change is below the default or level with it, and none
# is distinguishable from it after the correction for five comparisons, although three are close:
# a constant rate (no annealing: every epoch ends with full-size steps) is the largest drop and the
# only interval far from zero (p = 0.019 alone, 0.094 after Holm); taking augmentation away and the
# seed's network without label smoothing (its interval just excludes zero, p = 0.037 alone) come
# next. StepLR anneals too, but in cliffs, and spends its last 5 epochs at a hundredth of the rate.
# "Not distinguishable with these seeds" is not "no effect": more seeds of the close rows would
# tell more. On these clean test digits what augmentation buys hardly shows — the shifted
# digits below are where it does.
#
# Adam is level with the default and passed in all its seeds, and on the validation split (last
# section, with the seed's network) it was 0.06 points lower, level within the noise: a row that looks fine on the
# test set is exactly what this course does not adopt without validation. And the last row, the
# seed's network without label smoothing, passed in 3 of 5 seeds against 10 of 10 for the default:
# a mean this close to 99.4% passes or fails on a few digits, which is why the course reports how
# many seeds pass, not one run.
#
# ### The course's recipe against the seed's
#
# The seed assignment trained this network (with half the first block) with plain SGD at 0.01 and
# momentum 0.9, no weight decay, StepLR (a tenth every 5 epochs), batches of 128, and an
# augmentation of its own: rotations up to ±15° and, for 1 image in 10, a 22-pixel centre crop
# resized to 28 (a zoom of 1.27). `RECIPE = "seed"` reproduces all of that on *this* network, for
# 15 epochs instead of its 20, so that the recipe is the only difference.
#
# **Predict first.** How much of the default's accuracy comes from the recipe rather than the
# network?

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("01_fc_baseline", {"RECIPE=seed": "the seed's recipe, this network"})
plots.plot_comparison(comparison, title="the seed's recipe against the course's, same network")
comparison

# %% [markdown]
# <details><summary>Answer</summary>
#
# Most of what separates this network from the target. With the seed's recipe the same network
# scored 99.15% ± 0.08% over three seeds, 0.35 points below the course's recipe (95% interval −0.53
# to −0.16, p = 0.012), and passed in none of them. Its last epochs are flat: after two cuts of
# StepLR the rate is a hundredth of its start, and the network stops improving. Its augmentation
# rotates and zooms but never shifts, and it shows: on the digits shifted by 3 pixels of the next
# section it keeps 59% (three seeds), against 92% with the course's recipe.
#
# </details>

# %% [markdown]
# ## What does it get wrong?
#
# The misclassified test digits, highest loss first (title: true → predicted), and the confusion
# matrix. Many of the errors are digits a person would hesitate on too.

# %% tags=["nbval-ignore-output"]
predictions = mc.predict(model, test_loader, device)
plots.show_misclassified(predictions);

# %% tags=["nbval-ignore-output"]
plots.plot_confusion(predictions);

# %% [markdown]
# **A classic mistake: "test" accuracy measured on the training images.** The network has seen
# those digits (in augmented form) once per epoch; a score on them says how well it fits what it was
# shown, not how it does on new handwriting. Here are both, on clean images:

# %% tags=["nbval-ignore-output"]
train_images_loader = data.TensorLoader(mnist.train_images, mnist.train_labels, 1000, train_loader.mean,
                                        train_loader.std, device=device)
train_images_acc = mc.evaluate(model, train_images_loader, device)[1]
print(f"accuracy on the {len(mnist.train_images):,} training images: {train_images_acc:.2%}")
print(f"accuracy on the {test_loader.dataset_size:,} {eval_name} images:     {history.final_acc:.2%}")
print(f"what reporting the first as 'test' would claim: {100 * (train_images_acc - history.final_acc):+.2f} points")

# %% [markdown]
# ## Shifted digits
#
# Augmentation is meant to make the network robust to digits written a little rotated or off
# centre. To measure that, the same 10,000 test digits are rotated by exactly ±15° or shifted by
# exactly ±3 pixels along each axis (the signs are random but fixed by a seed, so every run sees
# the same images).
#
# **Predict first.** The training augmentation here rotates by at most 8° and shifts by at most
# 5% of 28 pixels (1.4 pixels). Which will hurt this network more: a 15° rotation or a 3-pixel
# shift? And how much of that does augmentation win back?

# %% tags=["nbval-ignore-output"]
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
# That is this run. Over the sweep's seeds, with augmentation on (the default) and off, and with the
# seed's recipe:

# %% tags=["nbval-ignore-output"]
print(experiments.compare_extra("01_fc_baseline", ["default", "AUGMENT=False", "RECIPE=seed"], "shift_robustness"))

# %% [markdown]
# <details><summary>Answer</summary>
#
# The 3-pixel shift, by far. Without augmentation the network keeps 98.35% of rotated digits but
# only 70.13% of shifted ones (± 3.06 over 3 seeds); with augmentation 92.49% (10 seeds): it wins
# back about 22 of the 29 points the shift costs. On rotated digits it gains about half a point.
#
# </details>
#
# Read each column against its own noise (the ± is the spread over seeds). On clean digits the two
# rows are close; on rotated digits augmentation is ahead by more than the spreads, and on digits
# shifted by 3 pixels the gap is about 22 points: without augmentation, a shift this network never
# saw breaks it, and even the mild shifts of the training augmentation win most of it back. This is
# what augmentation buys, and the clean test set alone hides it.
#
# Why a shift hurts so much (a hypothesis, not measured here): the convolutions and max-pools
# tolerate only small shifts, and the fully connected head ties each feature to a cell of the 4×4
# grid; a 3-pixel shift, twice the largest shift of the training augmentation, moves features to
# other cells. Session 2 replaces that head with a global average, which does not care where on the
# grid a feature was; whether that makes it more robust to shifts is an experiment for you (copy
# this section there).

# %% [markdown]
# ## Results

# %% tags=["nbval-ignore-output"]
results = mc.report(
    "01_fc_baseline", model, history, max_params=MAX_PARAMS, target_acc=0.994, device=device,
    extra={"shift_robustness": shift_robustness}, predictions=predictions,
)

# %% [markdown]
# ## How this network and recipe were chosen: on validation
#
# The result above is one seed. The course asks a recipe to pass in at least 9 of 10 seeds, and the
# assignment's network (4 and 8 channels in the first block) with this recipe but no label
# smoothing — the previous default of this notebook, the row `FIRST_CHANNELS=4,LABEL_SMOOTHING=0.0`
# of the recipe table — passed in 3 of 5. When a recipe falls short, the tempting fix — try changes and keep the
# one with the best *test* accuracy — is the mistake this course warns against: the test set would
# be choosing the recipe. Instead the candidates ran with `VAL_SPLIT = True`: 50,000 images to train
# on, 10,000 held-out training images to evaluate on, the test set untouched. Each row below is
# compared with that previous default on the same split.
#
# The candidates came in two rounds. First the recipe: the peak rate of 0.1, the weight decay and
# the label smoothing were chosen as candidates before any sweep ran. The others came from looking
# at results: a lower peak (0.03) after 0.1 scored lower here; Adam and no augmentation after the
# recipe table, where neither was distinguishable from the default of the time on the *test* set — looking there
# once to pick what to try is a mild use of the test set, which is why the decision itself is made
# here, on validation only. Label smoothing, the closest call after three seeds, got two more
# seeds, and so did the baseline. No recipe change was distinguishably higher, so the second round changed
# the model within the budget: the first block twice as wide (`FIRST_CHANNELS = 8`), alone and
# together with label smoothing.
#
# **Predict first:** which of these eight would you bet on, and by how much?

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("01_fc_baseline", {
    "VAL_SPLIT=True,LR=0.1,FIRST_CHANNELS=4,LABEL_SMOOTHING=0.0": "peak rate 0.1 instead of 0.05",
    "VAL_SPLIT=True,LR=0.03,FIRST_CHANNELS=4,LABEL_SMOOTHING=0.0": "peak rate 0.03",
    "VAL_SPLIT=True,WEIGHT_DECAY=0.0005,FIRST_CHANNELS=4,LABEL_SMOOTHING=0.0": "5x the weight decay",
    "VAL_SPLIT=True,OPTIMIZER=adam,LR=0.003,FIRST_CHANNELS=4,LABEL_SMOOTHING=0.0": "Adam at 0.003",
    "VAL_SPLIT=True,AUGMENT=False,FIRST_CHANNELS=4,LABEL_SMOOTHING=0.0": "no augmentation",
    "VAL_SPLIT=True,FIRST_CHANNELS=4": "label smoothing 0.1",
    "VAL_SPLIT=True,LABEL_SMOOTHING=0.0": "first block 8 and 16 channels",
    "VAL_SPLIT=True": "both: this notebook's default now",
}, baseline="VAL_SPLIT=True,FIRST_CHANNELS=4,LABEL_SMOOTHING=0.0")
plots.plot_comparison(comparison, title="candidates on validation, against the previous default")
comparison

# %% [markdown]
# <details><summary>Answer</summary>
#
# The wider first block with label smoothing had the highest mean, +0.10 points on validation
# (95% interval −0.02 to +0.22); label smoothing alone +0.08, the wider block alone +0.06. No
# candidate is distinguishable from the baseline after Holm's correction for eight comparisons, and
# taking augmentation away is the largest drop (−0.24, p = 0.0099 before the correction).
#
# </details>
#
# Read the "vs" column and its interval, then "p (Holm)", corrected for eight comparisons. No
# candidate is distinguishable from the baseline after the correction. Before it, two changes are
# *lower* on validation at 5%: taking augmentation away (p = 0.0099) and a peak rate of 0.1
# (p = 0.04); label smoothing and the wider block are up by 0.08 and 0.06 points, and the two
# together by 0.10, all with intervals that reach below zero. The "passed" column here compares *validation*
# accuracy with 99.4%: it is measured on other digits, by models trained on 50,000 images instead of
# 60,000, so read it only across rows, never against the test target.
#
# Then a decision had to be made: the baseline misses the target, so keeping it was not an
# option. The rule: take the candidate with the highest mean on validation — the wider block with
# label smoothing, +0.10 points (p = 0.093 before any correction). Be clear about what that buys.
# Picking the highest of eight noisy readings favours whichever got lucky (the "winner's curse"),
# so its true gain is probably smaller than measured. Only after the choice was it run on the test
# set: the default row of the recipe table above is that run, over ten seeds. The previous
# default's row there is the test-set run that started the search, read before the decision.

# %% [markdown]
# ## What next
#
# The recipe carried a plain network a long way, but look at where the parameters sit: 15,390 of
# 23,908 are in one fully connected layer that only *mixes* the 4×4 map of features. Session 2
# replaces it with **global average pooling** (zero parameters), adds **BatchNorm** and **Dropout**
# — and has to hold the accuracy with under 10,000 parameters. Its sweep measures what each of the
# three buys.
