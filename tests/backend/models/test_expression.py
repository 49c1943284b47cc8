"""Conformer block and expression model: shapes, gradients, input conventions and learning on a fixed batch."""

import pytest
import torch
import torch.nn.functional as F

from backend.models.config import ModelConfig
from backend.models.conformer import ConformerBlock
from backend.models.expression import ExpressionModel
from backend.models.rotary import apply_rotary, rotary_cos_sin


def tiny_model(**overrides) -> ExpressionModel:
    return ExpressionModel(ModelConfig.tiny().with_overrides({"expression": overrides}).expression)


def batch(model: ExpressionModel, frames: int = 16, seed: int = 0):
    c = model.config
    g = torch.Generator().manual_seed(seed)
    mel = torch.randn(2, frames, c.mel_per_frame, c.n_mel, generator=g)
    phones = torch.randint(c.n_phones, (2, frames), generator=g)
    phonetic = F.one_hot(phones, c.n_phones).float()
    reference = torch.randn(2, 20, c.n_expression + 3, generator=g)
    return mel, phonetic, reference


def test_rotary_attention_scores_depend_only_on_the_offset():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(8, generator=g), torch.randn(8, generator=g)

    def score(pos_q, pos_k):
        cos, sin = rotary_cos_sin(0, 40, 8)
        return apply_rotary(q, cos[pos_q], sin[pos_q]) @ apply_rotary(k, cos[pos_k], sin[pos_k])

    torch.testing.assert_close(score(3, 7), score(30, 34))
    assert not torch.isclose(score(3, 7), score(3, 9))


def test_conformer_block_keeps_shape_and_passes_gradients():
    torch.manual_seed(0)
    block = ConformerBlock(16, 2, 2, 5, 0.0, ModelConfig.tiny().expression.molora)
    x = torch.randn(3, 11, 16, requires_grad=True)
    y = block(x)
    assert y.shape == x.shape
    y.pow(2).sum().backward()
    assert x.grad.abs().sum() > 0
    # B = 0 blocks the gradient to A and the gate until B moves; every other weight learns from the first step.
    for name, p in block.named_parameters():
        if name.endswith(("lora_A", "gate.weight", "gate.bias")):
            assert p.grad.abs().sum() == 0, name
        else:
            assert p.grad.abs().sum() > 0, name


def test_expression_model_shapes_on_every_input_path():
    torch.manual_seed(0)
    model = tiny_model().eval()
    c = model.config
    mel, phonetic, reference = batch(model)
    style = model.encode_style(reference)
    assert style.shape == (2, c.style_dim)
    for out in (model(mel, phonetic, style), model(mel), model(mel, phonetic)):
        assert out.expression.shape == (2, 16, c.n_expression)
        assert out.jaw.shape == (2, 16, 3)
    assert model.encode_audio(mel, phonetic).shape == (2, 16, c.d_model)


def test_missing_inputs_are_zeros_by_convention():
    torch.manual_seed(0)
    model = tiny_model().eval()
    mel, phonetic, _ = batch(model)
    torch.testing.assert_close(model(mel).expression, model(mel, torch.zeros_like(phonetic)).expression)
    no_style = torch.zeros(2, model.config.style_dim)
    torch.testing.assert_close(model(mel, phonetic).jaw, model(mel, phonetic, no_style).jaw)


def test_mel_only_model_refuses_phones_and_bad_mel_is_named():
    model = tiny_model(use_phonetic=False)
    mel, phonetic, _ = batch(model)
    assert model(mel).jaw.shape == (2, 16, 3)
    with pytest.raises(ValueError, match="mel-only"):
        model(mel, phonetic)
    with pytest.raises(ValueError, match=r"mel must be \[B, T, 4, 80\]"):
        model(mel.flatten(2))


def test_low_rank_head_for_another_rig():
    model = tiny_model()
    model.replace_expression_head(100, rank=6)
    mel, phonetic, _ = batch(model)
    assert model(mel, phonetic).expression.shape == (2, 16, 100)
    assert sum(p.numel() for p in model.expression_head.parameters()) == model.config.d_model * 6 + 6 * 100 + 100


def test_a_few_steps_fit_a_fixed_batch_and_train_the_style_path():
    torch.manual_seed(0)
    model = tiny_model()
    mel, phonetic, reference = batch(model)
    g = torch.Generator().manual_seed(1)
    target_expression = torch.rand(2, 16, model.config.n_expression, generator=g)
    target_jaw = torch.rand(2, 16, 3, generator=g) * 0.3
    style_weights = [p.detach().clone() for p in model.style_encoder.parameters()]
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        optimiser.zero_grad()
        out = model(mel, phonetic, model.encode_style(reference))
        loss = F.mse_loss(out.expression, target_expression) + F.mse_loss(out.jaw, target_jaw)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    # FiLM starts at zero, so the style encoder only starts learning once FiLM has moved.
    assert any(not torch.equal(a, b) for a, b in zip(style_weights, model.style_encoder.parameters()))
