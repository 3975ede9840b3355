import pytest
import torch
from torch import nn

from mnist_course.model_info import (
    check_rubric,
    class_activation_maps,
    count_params,
    layer_table,
    multiply_adds,
    print_layer_table,
    summary,
)


def small_net():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.05),  # 26, RF 3
        nn.Conv2d(8, 16, 3, bias=False), nn.ReLU(),  # 24, RF 5
        nn.MaxPool2d(2), nn.Conv2d(16, 8, 1),  # 12, RF 6, jump 2
        nn.Conv2d(8, 16, 3), nn.ReLU(),  # 10, RF 10
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )  # fmt: skip


def test_count_params():
    assert count_params(small_net()) == 72 + 16 + 1152 + 136 + 1168 + 170


def test_layer_table_sizes_and_receptive_fields():
    rows = {r.name: r for r in layer_table(small_net())}
    assert rows["0"].output == (8, 26, 26) and rows["0"].rf == 3
    assert rows["4"].rf == 5 and rows["4"].jump == 1
    assert rows["6"].output == (16, 12, 12) and rows["6"].rf == 6 and rows["6"].jump == 2
    assert rows["7"].rf == 6  # a 1x1 convolution adds nothing to the receptive field
    assert rows["8"].output == (16, 10, 10) and rows["8"].rf == 10
    assert rows["10"].rf == 28  # global average pooling sees the whole image
    assert rows["12"].output == (10,) and rows["12"].params == 170


def test_print_layer_table_and_summary_run(capsys):
    net = small_net()
    print_layer_table(net)
    summary(net)
    out = capsys.readouterr().out
    assert "MaxPool2d" in out and f"{count_params(net):,}" in out and "Total params" in out
    assert net.training  # inspection leaves the mode as it was


def test_rubric_passes_and_fails_with_readable_lines():
    net = small_net()
    rubric = check_rubric(net, max_params=8000, require=("batchnorm", "dropout", "gap_or_fc", "1x1"))
    assert rubric.passed
    assert str(rubric).splitlines()[0] == f"PASS  parameters: {count_params(net):,} <= 8,000"
    assert "PASS  uses Global Average Pooling or a fully connected layer" in str(rubric)

    plain = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    rubric = check_rubric(plain, max_params=1000, require=("batchnorm", "no_dropout", "fc"))
    assert not rubric.passed
    assert "FAIL  parameters: 27,090 <= 1,000" in str(rubric)
    assert "FAIL  uses BatchNorm (none found)" in str(rubric)
    assert "PASS  no Dropout" in str(rubric) and "PASS  uses a fully connected layer" in str(rubric)
    assert "FAIL  no BatchNorm (found one)" in str(check_rubric(net, 10**6, require=("no_batchnorm",)))


def test_rubric_rejects_unknown_items():
    with pytest.raises(ValueError, match="unknown rubric item 'batchnrom'"):
        check_rubric(small_net(), 1, require=("batchnrom",))


def test_flatten_for_a_fully_connected_head_covers_the_whole_map():
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.MaxPool2d(2),  # 5x5 map, RF 10, jump 4
        nn.Flatten(), nn.Linear(100, 10),
    )  # fmt: skip
    rows = layer_table(net)
    assert (rows[3].output, rows[3].rf, rows[3].jump) == ((4, 5, 5), 10, 4)
    assert rows[4].rf == 10 + 4 * 4 and rows[5].rf == 26


def test_multiply_adds_count_each_weight_once_per_output_position():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 1, bias=False), nn.Flatten(),
                          nn.Linear(8 * 13 * 13, 10))  # fmt: skip
    # 26x26 positions x 4 maps x 9 weights; 13x13 x 8 x 4; 1352 x 10
    assert multiply_adds(model) == 26 * 26 * 4 * 9 + 13 * 13 * 8 * 4 + 1352 * 10
    padded = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1))  # same weights, more positions
    assert multiply_adds(padded) == 28 * 28 * 4 * 9 and count_params(padded) == count_params(nn.Conv2d(1, 4, 3))
    assert model.training  # left in the mode it was in


def test_receptive_field_start_follows_the_padding():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3))
    rows = layer_table(model)
    assert [(r.rf, r.jump, r.start) for r in rows] == [(3, 1, -1), (4, 2, -1), (8, 2, -1)]
    # the unpadded convolution after the pool adds nothing to the start: its first output's field begins
    # where the pool's first output's field begins


def test_class_activation_maps_average_to_the_logits():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    x = torch.randn(2, 1, 28, 28)
    cams = class_activation_maps(model, x)
    assert cams.shape == (2, 10, 26, 26) and model.training
    with torch.no_grad():
        logits = model(x)
    assert torch.allclose(cams.mean(dim=(2, 3)) + model[-1].bias, logits, atol=1e-5)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d"):
        class_activation_maps(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), x)
