"""Look inside a model: parameters, the torchsummary table, receptive fields, and the rubric check."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def multiply_adds(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> int:
    """Multiply-adds of one image's forward pass through the convolutions and linear layers.

    This, not the parameter count, is what the computation costs: a 3×3 kernel's 9·c_in·c_out weights
    are applied at every position of its output map. (BatchNorm, ReLU, pooling and Dropout are left
    out: a few operations per value, small next to the convolutions.) Deterministic, unlike timings.
    """
    total = 0

    def hook(module: nn.Module, inputs, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output[0].numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total += output[0].numel() * module.in_features

    device = next(model.parameters()).device
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_size, device=device))
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return total


def summary(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> None:
    """Print the torchsummary table, whatever device the model is on.

    torchsummary knows only "cuda" and "cpu" and defaults to "cuda": this passes the model's own device, and
    summarizes a CPU copy of an MPS model.
    """
    from torchsummary import summary as torch_summary

    device = next(model.parameters()).device
    if device.type not in ("cpu", "cuda"):
        model, device = copy.deepcopy(model).cpu(), torch.device("cpu")
    torch_summary(model, input_size, device=device.type)


@dataclass
class Layer:
    name: str
    kind: str
    output: tuple[int, ...]
    params: int
    rf: int  # receptive field in input pixels, along one side
    jump: int  # input pixels between two neighbouring outputs
    start: int = 0  # input pixel where the first output's field begins (negative: it starts in the padding)


def _side(value: int | tuple[int, ...]) -> int:
    return value[0] if isinstance(value, tuple) else value


def layer_table(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> list[Layer]:
    """Every leaf layer in the order it runs, with output size, parameters, receptive field and jump.

    A k×k window (dilation d) over a map whose neighbouring pixels are `jump` input pixels apart grows the
    field by (k - 1)·d·jump; a stride s multiplies the jump by s. Global pooling, or flattening a map for a
    fully connected layer, acts like a kernel as large as the map. Only nn.Module layers are seen, not F.* calls.
    """
    rows: list[Layer] = []
    rf, jump, start = 1, 1, 0
    names = {module: name for name, module in model.named_modules()}

    def hook(module: nn.Module, inputs, output: torch.Tensor) -> None:
        nonlocal rf, jump, start
        if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
            k, s, d = (_side(getattr(module, a, 1)) for a in ("kernel_size", "stride", "dilation"))
            start -= _side(getattr(module, "padding", 0)) * jump
            rf, jump = rf + (k - 1) * d * jump, jump * s
        elif isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d | nn.Flatten) and inputs[0].dim() == 4:
            rf += (inputs[0].shape[-1] - 1) * jump
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(Layer(names[module], type(module).__name__, tuple(output.shape[1:]), params, rf, jump, start))

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]  # the leaves
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return rows


def print_layer_table(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> None:
    """Print `layer_table` as aligned text, with the total parameter count."""
    rows = layer_table(model, input_size)
    print(f"{'layer':<16} {'type':<18} {'output':<14} {'params':>7} {'RF':>4} {'jump':>5}")
    for r in rows:
        shape = "x".join(str(v) for v in r.output)
        print(f"{r.name:<16} {r.kind:<18} {shape:<14} {r.params:>7,} {r.rf:>4} {r.jump:>5}")
    print(f"{'total':<16} {'':<18} {'':<14} {count_params(model):>7,}")


@dataclass
class Rubric:
    """The outcome of `check_rubric`: one (passed, line) per check; prints as PASS/FAIL lines."""

    checks: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(ok for ok, _ in self.checks)

    def __str__(self) -> str:
        return "\n".join(f"{'PASS' if ok else 'FAIL'}  {line}" for ok, line in self.checks)

    __repr__ = __str__


_FEATURES = {
    "batchnorm": ("BatchNorm", lambda m: isinstance(m, nn.modules.batchnorm._BatchNorm)),
    "dropout": ("Dropout", lambda m: isinstance(m, nn.modules.dropout._DropoutNd)),
    "gap": ("Global Average Pooling", lambda m: isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1))),
    "fc": ("a fully connected layer", lambda m: isinstance(m, nn.Linear)),
    "1x1": ("a 1x1 convolution", lambda m: isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)),
}


def check_rubric(model: nn.Module, max_params: int, require: tuple[str, ...] = ()) -> Rubric:
    """Check the parameter budget and which layers the model uses.

    `require` names features: "batchnorm", "dropout", "gap", "fc", "1x1", "gap_or_fc"; a "no_"
    prefix requires the feature to be absent (e.g. "no_batchnorm" for the plain baseline).
    """
    modules = list(model.modules())
    n = count_params(model)
    rubric = Rubric([(n <= max_params, f"parameters: {n:,} <= {max_params:,}")])
    for item in require:
        absent = item.startswith("no_")
        keys = item.removeprefix("no_").split("_or_")
        if any(k not in _FEATURES for k in keys):
            raise ValueError(f"unknown rubric item {item!r}; known: {', '.join(_FEATURES)} (or 'a_or_b', 'no_a')")
        found = any(_FEATURES[k][1](m) for k in keys for m in modules)
        label = " or ".join(_FEATURES[k][0] for k in keys)
        if absent:
            rubric.checks.append((not found, f"no {label}" + (" (found one)" if found else "")))
        else:
            rubric.checks.append((found, f"uses {label}" + ("" if found else " (none found)")))
    return rubric


def class_activation_maps(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Each digit's evidence for each class at each position, for a model that ends in global average
    pooling then one linear layer (sessions 2 and 3): (N, classes, h, w) on the last map before GAP.

    The logit of class c is the bias plus the *average* over positions of Σ_k w_ck·A_k: this map,
    before the average. It shows where the network found its evidence, which GAP keeps, and that
    the answer is a sum over positions, which is what GAP loses: where things were relative to
    each other.
    """
    pools = [m for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not pools or not linears or _side(pools[-1].output_size) != 1:
        raise ValueError("class activation maps need a model ending in AdaptiveAvgPool2d(1) and one Linear layer")
    features = {}

    def keep(module: nn.Module, inputs, output: torch.Tensor) -> None:  # None: the output stays as it is
        features["maps"] = inputs[0]

    handle = pools[-1].register_forward_hook(keep)
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(images)
    finally:
        handle.remove()
        model.train(was_training)
    return torch.einsum("ck,nkhw->nchw", linears[-1].weight.detach(), features["maps"])
