# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mnist-course/mnist-course/blob/main/notebooks/03_1x1_transitions.ipynb)
#
# # Session 3 — 1×1 transition blocks under a tight budget
#
# Session 2 held the accuracy with 8,261 parameters. This session adds the **transition block**:
# a max-pool followed by a **1×1 convolution**.
#
# * A 1×1 convolution looks at one pixel at a time and mixes its channels: `c_in × c_out`
#   parameters, no spatial context, receptive field unchanged. It is the cheapest way to *change
#   the number of channels*.
# * Placed right after the max-pool, it squeezes the features before the first 3×3 convolution
#   after it, whose cost is `9 × c_in × c_out`: here 10 input channels instead of 14 save 468
#   parameters in that convolution (9 × 4 × 13), for the 140 the 1×1 costs.
# * The budget then buys depth rather than width, as in session 2: four 3×3 blocks after the
#   transition, 13 channels each, instead of three of 16 (the two were compared again on a
#   validation split; the end of the lesson shows how).
#
# **Target:** ≤ 8,000 parameters, minimum test accuracy over the last 3 of at most 15 epochs
# ≥ 99.4%, in at least 9 of 10 random seeds. (Of the assignments this course started from — the
# "seed assignments" — the closest, with BatchNorm, Dropout, GAP and two MaxPool + 1×1
# transitions, touched 99.43% at one epoch with 9,798 parameters; another with MaxPool + 1×1
# transitions and a larger network reported 99.41% at its best epoch with 16,034.)
#
# The second half of the session is about *honest numbers*: why a validation split exists, and why
# picking the best epoch on the test set flatters a model.

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
# Change one value and run the notebook again, or run a variant without touching the notebook:
# `python -m mnist_course run notebooks/03_1x1_transitions.ipynb -p WIDTH=0.75 --seeds 1-3`.

# %% tags=["parameters"]
SEED = 1  # seeds the weights, the shuffling and every augmentation draw
TRANSITION = True  # the max-pool + 1x1 transition; off: a plain max-pool, late blocks as wide as the budget allows
LATE_BLOCKS = 4  # 3x3 blocks after the transition (1 to 5), as wide as three blocks of 16 allow; 4 chosen on validation
WIDTH = 1.0  # multiplies every layer's channel count (parameters grow about as WIDTH squared)
VAL_SPLIT = False  # train on 50,000 images, choose the epoch on the other 10,000, test once at the end
DROPOUT = 0.02  # dropout rate after every block; chosen on validation (see "How this notebook's defaults were chosen")
LABEL_SMOOTHING = 0.0  # session 1's recipe uses 0.1
MAX_LR = 0.1  # one-cycle peak learning rate (session 2's); see "Choosing the peak learning rate"

# %% [markdown]
# **Exercise.** Shrink the model: set `WIDTH = 0.9` (5,661 parameters) and run the notebook. Does
# it still pass? Then look for your run on the frontier chart below, at the `WIDTH=0.9` point with
# 5,661 parameters (five seeds; the other `WIDTH=0.9` point is an earlier design's): was your seed
# a typical one? (The results table of the course's README gives the
# measured time of a full run.)

# %%
mc.seed_everything(SEED)

# %% [markdown]
# ## Data and augmentation
#
# Unchanged from sessions 1 and 2: the in-memory dataset, and per-sample random rotation, shift and
# scale on every training batch.

# %%
mnist = mc.load_mnist()
plots.show_samples(mnist.train_images[40:56], mnist.train_labels[40:56]);

# %%
augment = data.Augment(degrees=8, translate=0.05, scale=(0.95, 1.05))
plots.show_augmentations(mnist.train_images[6:9], augment);

# %% tags=["nbval-ignore-output"]
BATCH_SIZE = 128
EPOCHS = mc.epochs(15)
train_loader, test_loader = data.make_loaders(
    batch_size=BATCH_SIZE, augment=augment, device=device, seed=SEED,
    val_size=10_000 if VAL_SPLIT else None,
)
eval_name = "val" if VAL_SPLIT else "test"
print(f"{train_loader.dataset_size:,} training images in {len(train_loader)} batches; "
      f"{test_loader.dataset_size:,} {eval_name} images")


# %% [markdown]
# ## The model
#
# | layer | output (C×H×W) | RF | parameters | why |
# |---|---|---|---|---|
# | block 1→10 | 10×26×26 | 3 | 90 + 20 | edges |
# | block 10→14 | 14×24×24 | 5 | 1,260 + 28 | strokes: the widest map, at full resolution |
# | **transition**: max-pool 2×2 | 14×12×12 | 6 | 0 | halve the map, jump 2 |
# | **transition**: 1×1 conv 14→10 | 10×12×12 | 6 | 140 | squeeze 14 channels into 10 |
# | block 10→13 | 13×10×10 | 10 | 1,170 + 26 | 10 inputs: 468 fewer than 14 would cost |
# | block 13→13 | 13×8×8 | 14 | 1,521 + 26 | parts of digits |
# | block 13→13 | 13×6×6 | 18 | 1,521 + 26 | larger parts |
# | block 13→13 | 13×4×4 | 22 | 1,521 + 26 | whole digits: each of the 16 positions sees 22×22 pixels |
# | GAP → FC 13→10 | 10 | 28 | 140 | one logit per digit |
#
# (The table is for `WIDTH = 1.0`, the defaults.) Blocks are 3×3 conv (no bias) → BatchNorm →
# ReLU → Dropout, as in session 2 but at 2%. The 1×1 has no BatchNorm or ReLU of its own: it is a
# linear re-mixing of channels, and the block right after it normalizes. Compared with session 2,
# the network has one layer more (the 1×1), a second block of 14 channels instead of 16, the same
# receptive field at the last convolution (22) and 746 fewer parameters. Because nothing non-linear
# sits between the 1×1 and the 3×3 after it, the pair adds no expressive depth: together they are
# one 3×3 convolution from 14 channels to 13 whose weights are forced through 10 mixtures of the
# inputs (a low-rank factorization). The 1×1 is a *constraint that saves parameters*, not an extra stage of
# features.
#
# **Where 13 comes from.** The design began with three late blocks 16 wide (7,852 parameters:
# session 2's first design with a second block of 14 and a transition; `LATE_BLOCKS = 3`). The notebook
# keeps that as its budget and gives any other number of late blocks as many channels as fit in
# it: four fit 13 wide (7,515 parameters), five 11. Depth or width at the same budget is a design question the
# validation split answers, near the end of the lesson.
#
# With `TRANSITION = False` the 1×1 is left out and the late blocks again get as many channels as
# the same budget allows. At four blocks that is still 13: the variant is this network without
# the squeeze, 328 parameters larger (its first late 3×3 takes all 14 channels). Such a variant
# prints a rubric FAIL line (no 1×1): expected, the rubric checks the lesson's design.

# %% tags=["model"]
def conv_block(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.Dropout(DROPOUT)
    )


def transition_block(c_in, c_out):
    """MaxPool halves the map; the 1x1 convolution changes the number of channels."""
    return nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(c_in, c_out, 1, bias=False))


def width(channels):
    return max(1, round(channels * WIDTH))


class TransitionNet(nn.Module):
    def __init__(self, transition=True, late=None, late_blocks=3):
        super().__init__()
        c1, c2, squeeze, c3 = width(10), width(14), width(10), late or width(16)
        self.features = nn.Sequential(
            conv_block(1, c1),          # 26x26, RF 3
            conv_block(c1, c2),         # 24x24, RF 5
            transition_block(c2, squeeze) if transition else nn.MaxPool2d(2),  # 12x12, RF 6
            conv_block(squeeze if transition else c2, c3),  # 10x10, RF 10
            *[conv_block(c3, c3) for _ in range(late_blocks - 1)],  # each: 2 pixels smaller, RF + 4
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c3, 10))

    def forward(self, x):
        return self.head(self.features(x))


if not 1 <= LATE_BLOCKS <= 5:
    raise ValueError(f"LATE_BLOCKS = {LATE_BLOCKS}: the 12x12 map after the pool fits 1 to 5 unpadded 3x3 blocks")
late = None  # three late blocks: WIDTH x 16 wide, the first design, TransitionNet()
if not TRANSITION or LATE_BLOCKS != 3:  # the widest late blocks that fit the first design's budget
    budget = mc.count_params(TransitionNet())
    late = max(c for c in range(1, 64) if mc.count_params(TransitionNet(TRANSITION, c, LATE_BLOCKS)) <= budget)
model = TransitionNet(TRANSITION, late, LATE_BLOCKS).to(device)
if late:
    print(f"late blocks {late} channels wide, {mc.count_params(model):,} parameters (budget {budget:,})")

# %% tags=["nbval-check-output"]
mc.print_layer_table(model)

# %% tags=["nbval-check-output"]
mc.summary(model)
print(f"multiply-adds per image: {mc.multiply_adds(model):,}")

# %% tags=["nbval-check-output"]
MAX_PARAMS = 8_000
print(mc.check_rubric(model, max_params=MAX_PARAMS, require=("batchnorm", "dropout", "gap", "1x1")))

# %% [markdown]
# ### Check yourself: the squeeze, counted
#
# Replace each `None` with your answer and run the cell; it checks your numbers against the helper.
# (Left as `None`, the cell checks nothing.)
#
# 1. How many parameters does the 1×1 convolution 14→10 have?
# 2. Without the transition, the block after the pool would take 14 channels straight to 13 with a
#    3×3 kernel. How many weights would that convolution have, and how many do the 1×1 and the
#    3×3 convolution 10→13 have together?

# %%
squeeze_params = None  # your answer to 1
direct_weights = None  # your answer to 2: one 3x3 convolution 14 -> 13
squeezed_weights = None  # your answer to 2: the 1x1 14 -> 10 and the 3x3 10 -> 13 together

if squeeze_params is not None:
    measured = mc.count_params(nn.Conv2d(14, 10, 1, bias=False))
    assert squeeze_params == measured, "a 1x1 kernel is one weight per input and output channel"
    print(f"1. right: {measured} parameters")
if direct_weights is not None and squeezed_weights is not None:
    direct = mc.count_params(nn.Conv2d(14, 13, 3, bias=False))
    squeezed = mc.count_params(nn.Conv2d(14, 10, 1, bias=False)) + mc.count_params(nn.Conv2d(10, 13, 3, bias=False))
    assert (direct_weights, squeezed_weights) == (direct, squeezed), "3 x 3 x inputs x outputs for each 3x3"
    print(f"2. right: {direct:,} against {squeezed:,}: the squeeze saves {direct - squeezed:,} weights")

# %% [markdown]
# <details><summary>Solutions</summary>
#
# 1. 14 × 10 = **140** (no bias: the BatchNorm of the next block shifts).
# 2. Directly: 3 × 3 × 14 × 13 = **1,638**. Squeezed: 140 + 3 × 3 × 10 × 13 = 140 + 1,170 =
#    **1,310**, 328 fewer. The saving grows with the channels squeezed away, and the price is that
#    the 3×3 kernels see 10 mixtures of the 14 channels rather than all of them.
#
# </details>

# %% [markdown]
# ## Training
#
# Session 2's recipe unchanged: SGD + Nesterov momentum, weight decay 1e-4, one-cycle to 0.1,
# stepped every batch, 15 epochs on all 60,000 training images, evaluated on the 10,000 test images
# after every epoch (with `VAL_SPLIT = True`: 50,000 training and 10,000 validation images).

# %% [markdown]
# ### Choosing the peak learning rate: a range test
#
# Where does `MAX_LR = 0.1` come from? A **learning-rate range test** trains a fresh copy of the
# model for a few hundred batches while the rate grows exponentially from 1e-5 to 10, and records
# the (smoothed) loss. The loss falls slowly at tiny rates, fast in a middle range, and blows up
# when the rate is too large. `mc.lr_find` suggests a tenth of the rate at the lowest smoothed loss
# — a rate still on the falling part of the curve — and restores the model, the optimizer and the
# random state afterwards. (Building the probe model draws random numbers, so the training below is
# not bit-for-bit the run you would get without this cell; it is an equally good sample of its seed.)
# The test goes up to a rate of 10, so that the blow-up is inside it. The chart also marks where the
# smoothed loss fell *fastest* ("steepest"), the other common pick; it jumps more from run to run
# (a slope of a noisy curve), which is why the suggestion uses the minimum instead.

# %% tags=["nbval-ignore-output"]
probe = TransitionNet(TRANSITION, late, LATE_BLOCKS).to(device)
probe_optimizer = torch.optim.SGD(probe.parameters(), lr=1e-5, momentum=0.9, nesterov=True, weight_decay=1e-4)
lr_test = mc.lr_find(probe, train_loader, probe_optimizer, end_lr=10, device=device,
                     progress=False)
print(f"suggested peak rate: {lr_test.suggested_lr:.3g} (lowest smoothed loss at {lr_test.min_loss_lr:.3g}); "
      f"this run uses MAX_LR = {MAX_LR:g}, {MAX_LR / lr_test.suggested_lr:.2g}x the suggestion")
plots.plot_lr_find(lr_test);

# %% [markdown]
# The recipe's peak of 0.1 was set in session 2, before this test; the test is a cheap check that
# it lies where the loss still falls fast rather than past the blow-up. It is a rule of thumb, not
# an optimum: a one-cycle run warms up to its peak and anneals from it, so peaks within a factor of
# a few of the suggestion are common. Session 2's `BATCH_SIZE=64,MAX_LR=0.05` row is one measured
# alternative, and its `MAX_LR=0.4` row another: with BatchNorm, a peak four times higher was
# level with 0.1.

# %% tags=["nbval-ignore-output"]
optimizer = torch.optim.SGD(model.parameters(), lr=MAX_LR, momentum=0.9, nesterov=True, weight_decay=1e-4)
scheduler = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=MAX_LR, epochs=EPOCHS, steps_per_epoch=len(train_loader), pct_start=0.25
)
checkpoints = mc.checkpoint_dir("03_1x1_transitions")
history = mc.fit(
    model, train_loader, test_loader, EPOCHS, optimizer, scheduler,
    device=device, target_acc=0.994, checkpoint_dir=checkpoints, eval_name=eval_name,
    label_smoothing=LABEL_SMOOTHING,
)

# %% tags=["nbval-ignore-output"]
print(history)
plots.plot_history(history, title="Session 3: 1x1 transitions");

# %% tags=["nbval-ignore-output"]
predictions = mc.predict(model, test_loader, device)
plots.show_misclassified(predictions);

# %% [markdown]
# ## What did the transition buy?
#
# **Predict first.** Take the 1×1 transition out (`TRANSITION = False`). With four late blocks the
# same budget still allows 13 channels each, so the variant is this very network without the
# squeeze: 328 parameters more, and its first late 3×3 sees all 14 channels instead of 10 mixtures
# of them. Does the squeeze cost accuracy, or is it free?
#
# The sweep's runs (full mode, several seeds each; the "vs baseline" column is the difference of
# the mean min-of-last-3 accuracy with its 95% interval from Welch's t-test over the seeds):

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("03_1x1_transitions", {
    "TRANSITION=False": "no 1x1: the first late block sees all 14 channels",
})
plots.plot_comparison(comparison, title="session 3: the transition, on the test set")
comparison

# %% [markdown]
# <details><summary>Answer</summary>
#
# Free, as far as these seeds can tell: without the squeeze the network is 0.06 points *lower*
# (95% interval −0.19 to +0.06, p = 0.18), passing in 2 of 3 seeds against 10 of 10, with 328
# parameters more. Three seeds cannot tell the two apart; they do show that the squeeze costs
# nothing measurable, so its 328 parameters are a saving.
#
# </details>

# %% [markdown]
# In the first design (three late blocks, Dropout 5%) the same budget rule gave a different
# variant: leaving the 1×1 out made the late blocks *narrower* (15 channels instead of 16), because
# the first of them then takes 14 inputs, which costs more than the squeeze saved.

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("03_1x1_transitions", {
    "TRANSITION=False,DROPOUT=0.05,LATE_BLOCKS=3": "no 1x1; late blocks 15 wide instead of 16",
}, baseline="DROPOUT=0.05,LATE_BLOCKS=3")
plots.plot_comparison(comparison, title="the first design (three late blocks, Dropout 5%): the transition")
comparison

# %% [markdown]
# There the model without the transition was 0.10 points lower (95% interval −0.21 to +0.01,
# p = 0.064), passing in 1 of 3 seeds against 4 of 5, at 264 fewer parameters: a squeeze and one
# more channel per late block against no squeeze, which these seeds could not tell apart.
#
# Both designs point the same way, and neither proves it: with the squeeze the network was ahead
# by 0.06 to 0.10 points, inside intervals that reach zero. The 1×1 is a cheap way to fit a
# budget, not a measured source of accuracy: what it buys is parameters to spend elsewhere, here
# on a fourth late block.
#
# ## The frontier: accuracy against size
#
# The same network at other widths (`WIDTH` multiplies every channel count, so parameters grow
# about as its square), each over several seeds, with the three sessions' defaults and the figures
# the seed assignments reported (single runs, best epoch, so optimistic; crosses). The goal: the
# smallest model that reaches the target in at least 4 of 5 seeds (a modest goal for a small
# model; a lesson's default must do better, 9 of 10). `WIDTH=0.9` (5,661 parameters) has 5 seeds:
# it is the network under 6,000 that the challenge at the end of the lesson chose on validation.
# The other widths have 3 each, enough to place them on the chart, not to certify them. (The
# first design, three late blocks and Dropout 5%, was measured at the same widths; its rows are
# in docs/experiments.md.)
#
# **Predict first.** `WIDTH=0.8` has under two thirds of the default's parameters (4,600);
# `WIDTH=1.75` has three times as many (22,999). How many of 3 seeds will the small one pass? Will
# the large one gain a whole point, a tenth of a point, or nothing you can tell from the noise?

# %% tags=["nbval-ignore-output"]
points, frontier_table = experiments.frontier("03_1x1_transitions", "WIDTH", others=("01_fc_baseline", "02_bn_dropout_gap"))
plots.plot_frontier(points, references={
    "seed: FC baseline, 98.80%": (21_844, 98.80), "seed: BN+GAP+1x1, 99.43% one epoch": (9_798, 99.43),
    "seed: 1x1 transitions, 99.41% best": (16_034, 99.41),
});
print(frontier_table)

# %% [markdown]
# <details><summary>Answer</summary>
#
# `WIDTH=0.8` (4,600 parameters) reached 99.4% in 1 of 3 seeds (99.35% ± 0.05%), 0.16 points below
# the default (95% interval −0.26 to −0.06, Welch's test on the same runs). `WIDTH=1.75` (22,999
# parameters) reached it in 3 of 3, 99.62% ± 0.02%: 0.12 points above the default (+0.09 to +0.15).
# Three times the parameters for about a tenth of a point: measurable, and far outside this
# session's budget.
#
# </details>

# %% [markdown]
# Read the chart from the left. Accuracy climbs steeply up to about the default's size, then
# flattens: `WIDTH=1.25` and `WIDTH=1.5` (11,266 and 17,227 parameters) land within 0.03 points of
# the default, and only `WIDTH=1.75` is clearly above it. Below the default each cut costs more:
# a quarter fewer parameters (`WIDTH=0.9`) 0.07 points, 39% fewer (`WIDTH=0.8`) 0.16 points, and
# 62% fewer (`WIDTH=0.6`, 2,876 parameters) 0.30 points, reaching the target in none of 3 seeds.
# Wider models are far outside the 8,000 budget, which is why the list above counts "reached the target" rather than "passed" (the sweep's tables in
# docs/experiments.md count a pass only within the budget). Below 6,000, is a narrower copy of
# this network the best use of the parameters? That is the challenge at the end of the lesson, once
# the validation split has made it a fair contest.

# %% [markdown]
# ## Honest numbers: why not report the best epoch?
#
# We evaluated on the test set after every epoch. It is tempting to report the highest of those
# numbers — several seed assignments did. But the test accuracy moves from epoch to epoch partly by
# chance: with 10,000 test images, an accuracy near 99.4% has a standard error of about
# √(0.994 × 0.006 / 10,000) ≈ 0.08 percentage points. The *maximum* of many noisy readings is
# biased upwards, and choosing it means the test set was used to make a decision — it is no longer
# an unbiased estimate of how the model does on new digits. (With a one-cycle schedule the last
# epochs run at a tiny learning rate, so the best epoch is often one of them and the numbers below
# may agree; the bias is in the habit of picking, on average over runs, not in every single run.)

# %% tags=["nbval-ignore-output"]
accs = history.column("eval_acc")
print(f"best epoch picked on the {eval_name} set: {max(accs):.2%} (epoch {accs.index(max(accs)) + 1})")
print(f"final epoch:                       {history.final_acc:.2%}")
print(f"minimum of the last 3 epochs:      {history.min_last(3):.2%}   <- what this course reports")
reading_error = 100 * (history.final_acc * (1 - history.final_acc) / len(predictions["labels"])) ** 0.5
print(f"standard error of one reading:     {reading_error:.2f} points")
print(experiments.headline("03_1x1_transitions"))  # the same notebook over the sweep's seeds

# %% [markdown]
# The last line is the honest headline: how often the recipe passes, and the mean and spread of the
# number the course reports. One run — even this notebook's — is one draw from that spread.
#
# ### Two models on the same digits: a paired test
#
# The tables of this course compare *recipes*: each row is several seeds, and Welch's t-test asks
# whether the seeds of one row score higher on average than those of another. A different question
# is whether two particular *trained models* differ, say this run and session 2's committed full
# run. Both were scored on the same 10,000 test digits, so compare them digit by digit. Most digits
# both get right, and a few both get wrong: those say nothing about which model is better. The
# evidence is in the digits where exactly one of them is right. If the two models were equally
# good, each such digit would be a coin flip between them; **McNemar's exact test** asks how
# surprising the split we see would be under that coin flip (a binomial test, from `scipy.stats`).
# Run files store each model's answer for every test digit, so any two committed runs can be
# compared this way; below, this run against session 2's, and two seeds of this notebook's default
# against each other.

# %% tags=["nbval-ignore-output"]
from mnist_course import stats

session2 = experiments.committed_predictions("02_bn_dropout_gap")
if eval_name == "test" and session2 is not None and len(session2) == len(predictions["preds"]):
    print("this run (A) against session 2's full run (B):")
    print(" ", stats.mcnemar(predictions["preds"].cpu(), session2, mnist.test_labels))
else:
    print("the paired test needs this run's answers on all 10,000 test digits (full mode, no VAL_SPLIT)")
seed_a, seed_b = (experiments.committed_predictions("03_1x1_transitions", "default", s) for s in (6, 7))
if seed_a is not None and seed_b is not None:
    print("two seeds of the default, 6 (A) and 7 (B):")
    print(" ", stats.mcnemar(seed_a, seed_b, mnist.test_labels))

# %% [markdown]
# Read the counts first: two models with nearly the same accuracy still disagree on a few dozen
# digits, one way or the other. A large p says that split is what a coin would give, so these
# runs cannot tell the two models apart — even when their accuracies differ by a few digits. The
# paired test answers a narrower question than the seed tables (these two trained models, not the
# recipes behind them), and it cannot see seed-to-seed spread: for choosing a recipe, compare seeds.

# %% [markdown]
# ### The validation split
#
# The clean way to make decisions — which epoch to keep, which learning rate, which architecture —
# is a **validation set** carved out of the training data: 50,000 images to train on, 10,000 to
# choose with. The test set is then used once, at the very end. `make_loaders(val_size=10_000)`
# makes that split; it is deterministic (the same seed gives the same 10,000 images), so a run can
# be repeated.
#
# Run this notebook with `VAL_SPLIT = True` to train that way: the model then trains on 50,000
# images and is evaluated on the validation set every epoch; `fit` keeps the weights of the best
# *validation* epoch in `best.pt`, and that checkpoint is scored on the test set once (the final
# epoch is scored too, for comparison only: it is never used to choose anything). The
# sweep runs it over five seeds (`results/runs/03_1x1_transitions/VAL_SPLIT=True/`), so what the
# split costs can be read against the default runs, which train on all 60,000 images.
#
# **Predict first.** Training on 50,000 instead of 60,000 images costs some accuracy; choosing the
# epoch on validation instead of taking the last one might gain some back. Which wins?

# %% tags=["nbval-ignore-output"]
val_split = {}
if VAL_SPLIT:
    test_only = data.TensorLoader(mnist.test_images, mnist.test_labels, 1000, train_loader.mean, train_loader.std,
                                  device=device)
    best = torch.load(checkpoints / "best.pt", map_location=device)
    val_split["final_epoch_test_acc"] = mc.evaluate(model, test_only, device)[1]
    model.load_state_dict(best["model"])
    val_split |= {"chosen_epoch": best["epoch"], "chosen_val_acc": best["eval_acc"],
                  "chosen_test_acc": mc.evaluate(model, test_only, device)[1]}
    print(f"epoch chosen on validation: {val_split['chosen_epoch']} (val accuracy {best['eval_acc']:.2%})")
    print(f"its test accuracy, measured once: {val_split['chosen_test_acc']:.2%}")
    print(f"test accuracy of the final epoch: {val_split['final_epoch_test_acc']:.2%}")
else:
    print("VAL_SPLIT is False: this run trained on all 60,000 images and evaluated on the test set.")

# %% [markdown]
# Over the sweep's seeds: the default (all 60,000 images, the final epoch's test accuracy) against
# the validation-split runs (`chosen_test_acc` is the one honest test reading of the
# epoch chosen on validation; `final_epoch_test_acc` is the last epoch's test accuracy):

# %% tags=["nbval-ignore-output"]
print(experiments.val_split_comparison("03_1x1_transitions"))

# %% [markdown]
# <details><summary>Answer</summary>
#
# Neither, measurably. Trained on 50,000 images, the final epoch scored 0.04 points below the
# default's 60,000 on the test set (95% interval −0.08 to +0.00, p = 0.07, five seeds against ten):
# perhaps a small cost, not one these seeds can confirm. Choosing the epoch on validation moved
# each run by −0.05 to +0.03 points: at most 5 of the 10,000 test digits.
#
# </details>

# %% [markdown]
# Both comparisons are on the test set, like with like: one test reading of the final epoch against
# one test reading of the final epoch; then, run by run, the chosen epoch against the final one of
# the same model (a paired comparison: the seed spread cancels, so it is read per run).
# (The runs' own accuracies, `chosen_val_acc`, are on the validation images, a different set, so
# they are not compared with the test figures.) With a one-cycle schedule the learning rate ends
# near zero, the last epochs barely differ, and choosing among them on validation can do little; a
# sixth fewer training images is the cost to look for. Training on 50,000 images was about 0.04
# points behind 60,000 (interval down to −0.08; five seeds against ten, Welch's test above), and choosing the
# epoch on validation moved the test accuracy by a few test digits at most (each 0.01 point is one
# of the 10,000 digits): on this model a validation split is cheap insurance, not a handicap.

# %% [markdown]
# ## How this notebook's defaults were chosen: on validation
#
# This session's first design had three late blocks 16 wide (7,852 parameters, `LATE_BLOCKS=3`)
# and Dropout 5%, and it passed in 4 of its first 5 seeds on the test set: one student in five
# would see it miss the target. The course asks for 9 in 10. Trying changes and keeping the one
# with the best *test* accuracy would make the test set choose; so, as in session 1, the
# candidates ran with `VAL_SPLIT = True` over five seeds each, the test set untouched, each changing
# one thing of the default of its time. First, the recipe: a lower Dropout rate (2%), and session
# 1's label smoothing (0.1). The rule, stated before the runs: keep the candidate with the highest
# validation mean.
# (The table's "passed" column counts validation accuracies against 99.4%: read it across rows
# only, never against the test target.)
#
# **Predict first.** Dropout fights overfitting, and a network of 7,852 parameters trained on
# 50,000 augmented digits hardly overfits. Which will do better on validation: less Dropout, or
# label smoothing?

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("03_1x1_transitions", {
    "VAL_SPLIT=True,LATE_BLOCKS=3": "Dropout 2% (kept since)",
    "VAL_SPLIT=True,LABEL_SMOOTHING=0.1,DROPOUT=0.05,LATE_BLOCKS=3": "label smoothing 0.1",
}, baseline="VAL_SPLIT=True,DROPOUT=0.05,LATE_BLOCKS=3")
plots.plot_comparison(comparison, title="candidates on validation, against Dropout 5%")
comparison

# %% [markdown]
# <details><summary>Answer</summary>
#
# Less Dropout, by a hair: Dropout 2% scored 99.37% ± 0.12% on validation against 99.35% ± 0.05%,
# +0.03 points (from the unrounded means; 95% interval −0.12 to +0.17, p = 0.67). Label smoothing was lower, −0.09 points
# (p = 0.028 alone, 0.056 after Holm's correction for the two comparisons). So the rule chose
# Dropout 2%; the evidence says it is level with 5%. A rule has to pick something, and the highest
# of a few noisy means is likely to be lucky (the "winner's curse"): expect its true gain to be
# smaller than measured, possibly nothing.
#
# </details>
#
# Only then did the chosen recipe run on the test set, over ten seeds, here beside the first
# default's five (Dropout 5%, run before the choice):

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("03_1x1_transitions", {
    "DROPOUT=0.05,LATE_BLOCKS=3": "Dropout 5%: the first default",
}, baseline="LATE_BLOCKS=3")
plots.plot_comparison(comparison, title="Dropout 2% and the first default (three late blocks), on the test set")
comparison

# %% [markdown]
# Read it honestly. With Dropout 2% the network passed in 8 of 10 seeds: below the course's bar of 9 in 10.
# And on the test set it is, if anything, *lower* than the Dropout it replaced: about 0.06 points,
# with an interval that just reaches zero. Validation saw Dropout 2% ahead by 0.03 points, inside
# its noise; the test set sees it behind by about twice that, also at the edge of its noise. This
# is what choosing between candidates that are level looks like: a coin flip, which the winner's
# curse then makes look like a gain. Going back to 5% because of this table would let the test set
# make the decision after all. The honest next step is a better candidate, found on validation.

# %% [markdown]
# ### Two more candidates, against Dropout 2%
#
# Two cheap changes of the recipe ran next, on validation over five seeds each, against the new
# default: no Dropout at all (session 2's test runs without it had looked strong), and the peak
# rate the range test suggested for the three-block network (about 0.27, rounded to 0.25). The rule is the same: a
# candidate replaces the default only with a higher validation mean. (No Dropout would also fail
# this session's rubric, which asks for Dropout; it ran to learn whether Dropout costs anything.)
#
# **Predict first.** The network is small and the digits are augmented: is Dropout a cost here? And
# does the range test's suggestion beat the rate inherited from session 2?

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("03_1x1_transitions", {
    "VAL_SPLIT=True,DROPOUT=0.0,LATE_BLOCKS=3": "no Dropout",
    "VAL_SPLIT=True,MAX_LR=0.25,LATE_BLOCKS=3": "peak rate 0.25 (the range test's suggestion)",
}, baseline="VAL_SPLIT=True,LATE_BLOCKS=3")
plots.plot_comparison(comparison, title="two more candidates on validation, against Dropout 2%")
comparison

# %% [markdown]
# <details><summary>Answer</summary>
#
# Neither: both are a few hundredths of a point *below* Dropout 2% on validation (no Dropout
# −0.03 points, 95% interval −0.18 to +0.12; peak 0.25 −0.01, −0.16 to +0.13), and both intervals
# are several times wider than the differences. The default stays. At 2%, Dropout neither costs
# nor buys anything these seeds can measure, and the peak rate is flat between 0.1 and 0.25.
#
# </details>
#
# So the recipe is not where this network's missing seeds are: Dropout rate and peak rate land
# within a few hundredths of a point of each other, and label smoothing only lowered it. What is left is the design:
# how the same parameters are spread over the layers.

# %% [markdown]
# ### A design candidate: depth for width
#
# The network ended on a 6×6 map whose positions each see 18×18 pixels. One more block after the
# transition makes the last map 4×4 and the receptive field 22, at the price of width: in the same
# budget, four late blocks fit 13 channels instead of 16 (`LATE_BLOCKS = 4`: 7,515 parameters, 7%
# fewer multiply-adds). Same rule, same five validation seeds, against Dropout 2% with three blocks.
#
# **Predict first.** A network this small: does it need depth or width more?

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("03_1x1_transitions", {
    "VAL_SPLIT=True": "four late blocks 13 wide: this notebook's default now",
}, baseline="VAL_SPLIT=True,LATE_BLOCKS=3")
plots.plot_comparison(comparison, title="depth for width, on validation")
comparison

# %% [markdown]
# <details><summary>Answer</summary>
#
# Neither, measurably: four blocks scored 99.39% ± 0.06% on validation against 99.37% ± 0.12%,
# +0.01 points (95% interval −0.13 to +0.16). The highest mean, by a hair, so the rule took it: this
# notebook's default has four late blocks since, with 337 fewer parameters. The smaller spread over
# the five seeds (0.06 against 0.12 points) is what a default that must pass 9 times in 10 needs
# most, but five seeds measure a spread roughly: that is the test set's job, next.
#
# </details>
#
# Only then did the new design run on the test set, over ten seeds, beside the three-block
# network's ten:

# %% tags=["nbval-ignore-output"]
print(experiments.headline("03_1x1_transitions"))
comparison = experiments.compare_variants("03_1x1_transitions", {
    "LATE_BLOCKS=3": "three late blocks 16 wide (Dropout 2%)",
})
plots.plot_comparison(comparison, title="this notebook's default and the three-block network, on the test set")
comparison

# %% [markdown]
# Read it honestly. Four late blocks passed in 10 of 10 seeds (99.51% ± 0.03%): the course's bar
# of 9 in 10, met. The three-block network, with the same recipe, is 0.09 points lower on the test
# set (95% interval −0.12 to −0.06): a difference ten seeds each show clearly, and one validation
# did not see (+0.01 points, interval −0.13 to +0.16). Validation and test are different digits,
# and five seeds on validation could not resolve a tenth of a point. This time the rule chose well
# by a margin it could not measure; in the Dropout round above, a small lead on validation turned
# into a small deficit on test. Neither is a reason to change the rule after the fact: a win on
# validation says "not worse", and the ten test seeds say how robust the chosen default is.

# %% [markdown]
# ## The challenge: under 6,000 parameters
#
# The first design's widths under 6,000 parameters (`WIDTH=0.8` and `WIDTH=0.85` with three late
# blocks, 5 seeds each; their rows are in docs/experiments.md) reached the target in at most 2 of 5
# seeds. The challenge: a network of at most 6,000 parameters under this session's rules —
# BatchNorm, Dropout, GAP, and at least one MaxPool + 1×1 transition, 15 epochs — chosen on
# validation, then tested over five seeds. The goal is a modest one for a model this small: passing
# in at least 4 of the 5.
#
# ### Your turn: a design under 6,000 parameters
#
# Design one yourself first, and let the rubric judge it. Reuse `conv_block` and
# `transition_block` from above. Then train it (set `model = my_small_net()` before the training
# cell, or add it to this notebook's model cell) and see where it lands on the frontier chart.

# %%
def my_small_net():
    return None  # replace with your network, e.g. nn.Sequential(conv_block(1, 8), ..., nn.Linear(..., 10))


small = my_small_net()
if small is not None:
    rubric = mc.check_rubric(small, max_params=6_000, require=("batchnorm", "dropout", "gap", "1x1"))
    print(rubric)
    assert rubric.passed, "see the FAIL lines above"
    print(f"{mc.count_params(small):,} parameters, {mc.multiply_adds(small):,} multiply-adds per image")

# %% [markdown]
# ### The course's attempt, chosen on validation
#
# Three candidates ran with `VAL_SPLIT = True` over five seeds each, all with this notebook's
# recipe: the first design narrowed (`WIDTH=0.85,LATE_BLOCKS=3`, 5,842 parameters;
# `WIDTH=0.8,LATE_BLOCKS=3`, 5,186) and this notebook's four-block design narrowed (`WIDTH=0.9`:
# first blocks 9 and 13 wide, a 1×1 to 9, four late blocks 11 wide; 5,661 parameters). The rule, as
# before: the highest validation mean wins. The default is the table's baseline, for scale.
#
# **Predict first.** Between 5,000 and 6,000 parameters, does the design matter, or only the count?

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("03_1x1_transitions", {
    "VAL_SPLIT=True,WIDTH=0.85,LATE_BLOCKS=3": "three late blocks, narrowed (5,842)",
    "VAL_SPLIT=True,WIDTH=0.8,LATE_BLOCKS=3": "three late blocks, narrower (5,186)",
    "VAL_SPLIT=True,WIDTH=0.9": "four late blocks, narrowed (5,661)",
}, baseline="VAL_SPLIT=True")
plots.plot_comparison(comparison, title="the challenge's candidates on validation, against the default")
comparison

# %% [markdown]
# <details><summary>Answer</summary>
#
# The count matters more than the design, at these sizes: the three land within 0.03 points of
# each other on validation (99.31% ± 0.04% for four blocks, 99.29% ± 0.08% and 99.28% ± 0.05% for
# three), 0.07 to 0.11 points below the default. Four blocks had the highest mean, so the rule
# chose `WIDTH=0.9`.
#
# </details>
#
# Then the chosen network ran on the test set, five seeds, beside the default's ten:

# %% tags=["nbval-ignore-output"]
comparison = experiments.compare_variants("03_1x1_transitions", {"WIDTH=0.9": "the challenge's network (5,661)"})
plots.plot_comparison(comparison, title="the challenge's network and the default, on the test set")
comparison

# %% [markdown]
# The goal is met, narrowly: `WIDTH=0.9` passed in 4 of 5 seeds (99.43% ± 0.05%; the miss, seed 3,
# dipped to 99.35% in its last three epochs) with 5,661 parameters, a quarter fewer than the
# default, and 0.07 points below it (95% interval −0.13 to −0.01). On the frontier chart above it is now the smallest model that
# reaches the target in 4 of 5 seeds. Four in five is the challenge's modest bar, not a default's
# nine in ten: one student in five would still see this network miss.

# %% [markdown]
# <details><summary>A solution</summary>
#
# The course's: this notebook's own network, narrower. `WIDTH = 0.9` in the parameters cell gives
# 5,661 parameters and passes the rubric. As a function for the cell above:
#
# ```python
# def my_small_net():
#     return nn.Sequential(
#         conv_block(1, 9), conv_block(9, 13), transition_block(13, 9),
#         conv_block(9, 11), conv_block(11, 11), conv_block(11, 11), conv_block(11, 11),
#         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(11, 10),
#     )
# ```
#
# Passing the rubric is the easy half; passing the target in 4 of 5 seeds is the challenge, which
# this one met with no seed to spare (the test table above).
#
# </details>


# %% [markdown]
# ## Three sessions on one chart
#
# The test accuracy per epoch of each session's full run (sessions 1 and 2 are read from their
# `results/*.json`, written by `python -m mnist_course run`).

# %% tags=["nbval-ignore-output"]
histories = experiments.full_run_histories(["01_fc_baseline", "02_bn_dropout_gap"])
if not VAL_SPLIT:
    histories[f"03_1x1_transitions ({mc.count_params(model):,} params)"] = history
plots.compare_histories(histories);

# %% [markdown]
# And where each session spends its parameters: one bar per layer, on one scale (sessions 1 and 2
# as their full runs recorded them). Session 1's budget sits in one fully connected layer; from
# session 2 on it sits in the convolutions, and session 3's 1×1 is the thin bar after the pool.

# %% tags=["nbval-ignore-output"]
ledgers = experiments.committed_layers(["01_fc_baseline", "02_bn_dropout_gap"])
plots.plot_parameter_ledger(ledgers | {"session 3": model});

# %% [markdown]
# ## Try your own handwriting
#
# MNIST digits were made in a particular way: white ink on black, the digit scaled into a 20×20
# box and centred by its centre of mass in 28×28. `mc.prepare_digit` does the same to any picture
# of one digit — a photo or a drawing, dark on light or light on dark — so the model sees what it
# was trained on. Set `MY_DIGIT` to the path of a picture (in Colab, upload one with the file
# browser on the left, or `from google.colab import files; files.upload()`); without one, a digit
# printed in a typeface stands in.

# %% tags=["nbval-ignore-output"]
from mnist_course.digits import typeface_digits

MY_DIGIT = None  # e.g. "my_seven.jpg"

printed, printed_labels = typeface_digits()
picture = MY_DIGIT or printed[7].numpy()  # a printed 7 when no picture is given
x = mc.prepare_digit(picture, mean=train_loader.mean, std=train_loader.std).to(device)
model.eval()
with torch.no_grad():
    probabilities = model(x).softmax(1)[0].cpu()
top = probabilities.topk(3)
plots.show_samples(x.cpu(), top.indices[:1], n=1, cols=1);  # what the model sees, titled with its answer
print("top 3:", ", ".join(f"{d} ({p:.1%})" for p, d in zip(top.values.tolist(), top.indices.tolist(), strict=True)))

# %% [markdown]
# **A first taste of distribution shift.** The same model on the digits 0–9 printed in every
# typeface this machine has (prepared like MNIST): printed digits are not handwriting, and the
# accuracy on them says how far what the network learned carries over. They can score as well as
# handwriting or better (they are clean and upright) or much worse (unusual shapes such as a
# crossed 7 or an open 4); a few hundred digits carry a standard error of 0.3–1.5 points (less the
# closer the accuracy is to 100%).

# %% tags=["nbval-ignore-output"]
printed_loader = data.TensorLoader(printed, printed_labels, 1000, train_loader.mean, train_loader.std, device=device)
printed_acc = mc.evaluate(model, printed_loader, device)[1]
print(f"{len(printed)} printed digits from {len(printed) // 10} typefaces: accuracy {printed_acc:.1%}")
print(f"handwritten digits ({eval_name} set, final epoch): {history.final_acc:.2%}")

# %% [markdown]
# ## Results

# %% tags=["nbval-ignore-output"]
results = mc.report(
    "03_1x1_transitions", model, history, max_params=MAX_PARAMS, target_acc=0.994, device=device,
    extra={"val_split": val_split} if VAL_SPLIT else None, predictions=predictions,
)

# %% [markdown]
# ## What next
#
# Three sessions took the same accuracy from 23,908 parameters to under 8,000 by moving parameters
# to where they are shared (convolutions, and a head of averages instead of a large fully connected
# layer) and squeezing channels cheaply (1×1). BatchNorm and Dropout came along as part of the
# design; session 2's table shows how little of the accuracy either can be shown to carry with 15
# epochs and a handful of seeds. Ideas to try on your own, each one change at a time, chosen on the validation split:
# padding to keep larger maps, a second transition block, a smaller batch, a different peak
# learning rate, or random erasing (`data.Augment(erase_p=0.25)`).
