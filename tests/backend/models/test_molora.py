"""MoLoRA layers: exact no-op at zero, the mixture formula, parameter selection and freezing."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from backend.models.config import ModelConfig
from backend.models.expression import ExpressionModel
from backend.models.molora import (
    MoLoRAConv1d,
    MoLoRALinear,
    freeze_molora,
    load_molora_state_dict,
    mark_only_molora_trainable,
    molora_parameters,
    molora_state_dict,
    set_molora_scale,
)

RANKS, ALPHA = (2, 4, 8), 4.0


def randomise_adapters(module: nn.Module, seed: int) -> None:
    """Give B and the gate non-zero values, as after adaptation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in molora_parameters(module):
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def reference_update(x_tokens: torch.Tensor, layer, expert_delta) -> torch.Tensor:
    """sum_i softmax(gate(x))_i * (alpha / r_i) * expert_i(x), expert by expert (the paper's formula)."""
    experts = layer.molora
    gate = torch.softmax(experts.gate(x_tokens), dim=-1)
    total, start = 0, 0
    for i, rank in enumerate(RANKS):
        a, b = experts.lora_A[start : start + rank], experts.lora_B[:, start : start + rank]
        total = total + gate[..., i : i + 1] * (ALPHA / rank) * expert_delta(a, b)
        start += rank
    return total


def test_linear_at_zero_is_exactly_the_base_layer():
    torch.manual_seed(0)
    base = nn.Linear(24, 16)
    layer = MoLoRALinear(base, RANKS, ALPHA)
    with torch.no_grad():
        layer.molora.gate.weight.normal_()  # a trained gate must not matter while B is zero
    x = torch.randn(3, 7, 24)
    assert torch.equal(layer(x), base(x))


@pytest.mark.parametrize("groups", [1, 12])
def test_conv_at_zero_is_exactly_the_base_layer(groups):
    torch.manual_seed(0)
    base = nn.Conv1d(12, 12, 5, padding=2, groups=groups)
    layer = MoLoRAConv1d(base, RANKS, ALPHA)
    x = torch.randn(2, 12, 30)
    assert torch.equal(layer(x), base(x))


def test_linear_update_is_the_gated_mixture_of_experts():
    torch.manual_seed(1)
    layer = MoLoRALinear(nn.Linear(24, 16), RANKS, ALPHA)
    randomise_adapters(layer, 1)
    x = torch.randn(3, 7, 24)
    expected = layer.base_layer(x) + reference_update(x, layer, lambda a, b: x @ a.T @ b.T)
    torch.testing.assert_close(layer(x), expected)


def test_dense_conv_update_is_the_gated_mixture_of_experts():
    torch.manual_seed(2)
    layer = MoLoRAConv1d(nn.Conv1d(10, 6, 5, padding=2), RANKS, ALPHA)
    randomise_adapters(layer, 2)
    x = torch.randn(2, 10, 30)
    tokens = x.transpose(1, 2)

    def expert(a, b):  # the expert's full weight update [out, in, k], applied as one conv
        return F.conv1d(x, torch.einsum("or,rik->oik", b, a), padding=2).transpose(1, 2)

    expected = layer.base_layer(x) + reference_update(tokens, layer, expert).transpose(1, 2)
    torch.testing.assert_close(layer(x), expected)


def test_depthwise_conv_update_stays_depthwise_and_matches_the_formula():
    torch.manual_seed(3)
    channels = 8
    layer = MoLoRAConv1d(nn.Conv1d(channels, channels, 5, padding=2, groups=channels), RANKS, ALPHA)
    assert layer.molora.lora_A.shape == (sum(RANKS), 5)  # shared temporal filters, not a dense kernel
    randomise_adapters(layer, 3)
    x = torch.randn(2, channels, 30)

    def expert(a, b):  # per-channel kernels W = B A [C, k]
        return F.conv1d(x, (b @ a)[:, None, :], padding=2, groups=channels).transpose(1, 2)

    expected = layer.base_layer(x) + reference_update(x.transpose(1, 2), layer, expert).transpose(1, 2)
    torch.testing.assert_close(layer(x), expected)


def test_conv_wrapper_rejects_what_the_gate_cannot_follow():
    with pytest.raises(ValueError, match="stride-1"):
        MoLoRAConv1d(nn.Conv1d(4, 4, 3, stride=2, padding=1), RANKS, ALPHA)
    with pytest.raises(ValueError, match="groups"):
        MoLoRAConv1d(nn.Conv1d(4, 8, 3, padding=1, groups=2), RANKS, ALPHA)


def test_scale_switches_the_adaptation_off_and_on():
    torch.manual_seed(4)
    layer = MoLoRALinear(nn.Linear(8, 8), RANKS, ALPHA)
    randomise_adapters(layer, 4)
    x = torch.randn(5, 8)
    adapted = layer(x)
    set_molora_scale(layer, 0.0)
    assert torch.equal(layer(x), layer.base_layer(x))
    set_molora_scale(layer, 0.5)
    torch.testing.assert_close(layer(x), layer.base_layer(x) + 0.5 * (adapted - layer.base_layer(x)))


def test_single_rank_ablation_has_the_same_factor_size_and_no_gate():
    mixture = MoLoRALinear(nn.Linear(64, 48), (2, 4, 8, 16), 8.0)
    single = MoLoRALinear(nn.Linear(64, 48), (30,), 8.0)
    assert single.molora.gate is None
    assert single.molora.lora_A.shape == mixture.molora.lora_A.shape
    assert single.molora.lora_B.shape == mixture.molora.lora_B.shape
    extra = sum(p.numel() for p in molora_parameters(mixture)) - sum(p.numel() for p in molora_parameters(single))
    assert extra == 64 * 4 + 4  # the gate alone


def tiny_expression_model(**molora) -> ExpressionModel:
    config = ModelConfig.tiny()
    if molora:
        config = config.with_overrides({"expression": {"molora": molora}})
    return ExpressionModel(config.expression)


def tiny_batch(model: ExpressionModel, seed: int = 0):
    c = model.config
    g = torch.Generator().manual_seed(seed)
    mel = torch.randn(2, 12, c.mel_per_frame, c.n_mel, generator=g)
    phonetic = torch.softmax(torch.randn(2, 12, c.n_phones, generator=g), -1)
    target = torch.randn(2, 12, c.n_expression, generator=g)
    return mel, phonetic, target


def test_adaptation_trains_only_the_adapters():
    torch.manual_seed(5)
    model = tiny_expression_model()
    mark_only_molora_trainable(model)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".molora." in name for name in trainable)
    assert len(trainable) == len(molora_parameters(model))
    # attention q/k/v/out, both pointwise convs and the depthwise conv of every block carry adapters
    wrapped = {name.split(".molora.")[0].split(".")[-1] for name in trainable}
    assert wrapped == {"q", "k", "v", "out", "pointwise_in", "pointwise_out", "depthwise"}

    base_before = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    mel, phonetic, target = tiny_batch(model)
    for _ in range(2):
        optimiser.zero_grad()
        F.mse_loss(model(mel, phonetic).expression, target).backward()
        optimiser.step()
    assert all(torch.equal(p, base_before[n]) for n, p in model.named_parameters() if n in base_before)
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if n.endswith("lora_B"))


def test_base_training_keeps_the_adapters_at_zero():
    model = tiny_expression_model()
    freeze_molora(model)
    assert all(not p.requires_grad for p in molora_parameters(model))
    assert all(p.requires_grad for n, p in model.named_parameters() if ".molora." not in n)


def test_adapter_state_round_trips_into_a_fresh_base_model():
    torch.manual_seed(6)
    adapted = tiny_expression_model()
    randomise_adapters(adapted, 6)
    fresh = tiny_expression_model()
    fresh.load_state_dict({k: v for k, v in adapted.state_dict().items() if ".molora." not in k}, strict=False)
    mel, phonetic, _ = tiny_batch(adapted)
    adapted.eval(), fresh.eval()
    assert not torch.allclose(fresh(mel, phonetic).expression, adapted(mel, phonetic).expression)
    state = molora_state_dict(adapted)
    assert state and all(".molora." in k for k in state)
    load_molora_state_dict(fresh, state)
    assert torch.equal(fresh(mel, phonetic).expression, adapted(mel, phonetic).expression)


def test_adapter_state_from_other_ranks_is_refused():
    model = tiny_expression_model()  # ranks (1, 2)
    with pytest.raises(ValueError, match=r"MoLoRA state does not fit this model: \d+ with another shape"):
        load_molora_state_dict(model, molora_state_dict(tiny_expression_model(ranks=(1, 3))))
    with pytest.raises(ValueError, match=r"MoLoRA state does not fit this model: \d+ missing \(e.g. .*gate"):
        load_molora_state_dict(model, molora_state_dict(tiny_expression_model(ranks=(3,))))
