"""Pose VQ-VAE (EMA codebook) and PoseGPT (teacher forcing, cached sampling)."""

import math

import pytest
import torch
import torch.nn.functional as F

from backend.models.adamesh import AdaMeshModels
from backend.models.config import ModelConfig
from backend.models.pose_gpt import PoseGPT, pool_to_code_rate, sample_code
from backend.models.pose_vqvae import EMAQuantizer, PoseVQVAE

CONFIG = ModelConfig.tiny()


def head_motion(batch: int, frames: int, seed: int) -> torch.Tensor:
    """Smooth nods / tilts / turns: random sums of slow sinusoids (0.2-2 Hz, ~0.1 rad), axis-angle [B, T, 3]."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames) / 25.0
    freq = 0.2 + 1.8 * torch.rand(batch, 1, 3, 2, generator=g)
    phase = 2 * math.pi * torch.rand(batch, 1, 3, 2, generator=g)
    amp = 0.1 * torch.rand(batch, 1, 3, 2, generator=g)
    return (amp * torch.sin(2 * math.pi * freq * t[None, :, None, None] + phase)).sum(-1)


def test_vqvae_shapes_and_round_trip():
    torch.manual_seed(0)
    model = PoseVQVAE(CONFIG.pose_vqvae)
    c = CONFIG.pose_vqvae
    pose = head_motion(3, 32, seed=0)
    out = model(pose)  # training mode: initialises the codebook from this batch
    assert out.reconstruction.shape == (3, 32, 3)
    assert out.indices.shape == (3, 32 // c.downsample)
    model.eval()
    assert model.encoder_outputs(pose).shape == (3, 8, c.code_dim)
    indices = model.encode(pose)
    assert indices.dtype == torch.long and int(indices.max()) < c.codebook_size
    torch.testing.assert_close(model.decode(indices), model(pose).reconstruction)
    with pytest.raises(ValueError, match="multiple of 4"):
        model.encode(pose[:, :30])


def test_vqvae_gradients_reach_encoder_through_the_quantiser():
    torch.manual_seed(0)
    model = PoseVQVAE(CONFIG.pose_vqvae)
    pose = head_motion(2, 16, seed=1)
    out = model(pose)
    (F.mse_loss(out.reconstruction, pose) + out.commitment_loss).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_vqvae_training_lowers_reconstruction_error():
    torch.manual_seed(0)
    model = PoseVQVAE(CONFIG.pose_vqvae)
    pose = head_motion(8, 32, seed=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    errors = []
    for _ in range(120):
        optimiser.zero_grad()
        out = model(pose)
        error = F.mse_loss(out.reconstruction, pose)
        (error + out.commitment_loss).backward()
        optimiser.step()
        errors.append(error.item())
    assert sum(errors[-5:]) / 5 < 0.4 * sum(errors[:5]) / 5
    assert model.eval().encode(pose).unique().numel() > 1  # the codebook is in use, not collapsed


def test_ema_codebook_restarts_stranded_codes_and_settles_on_the_clusters():
    torch.manual_seed(0)
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0], [0.0, -4.0]])
    quantizer = EMAQuantizer(4, 2, decay=0.8, commitment=0.25, dead_code_threshold=1.0)
    g = torch.Generator().manual_seed(0)
    # The codes are seeded far from where the data then goes: without restarts one code would take everything.
    quantizer(torch.tensor([10.0, 10.0]) + 0.05 * torch.randn(1, 64, 2, generator=g))
    for _ in range(60):
        z = centres[torch.randint(4, (256,), generator=g)] + 0.05 * torch.randn(256, 2, generator=g)
        quantizer(z[None])
    quantizer.eval()
    codebook_before = quantizer.codebook.clone()
    assert quantizer(centres[None]).indices.unique().numel() == 4
    torch.testing.assert_close(quantizer.codebook[quantizer.nearest(centres)], centres, atol=0.05, rtol=0)
    assert torch.equal(quantizer.codebook, codebook_before)  # eval mode leaves the codebook alone


def gpt_inputs(model: PoseGPT, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(2, n, CONFIG.expression.d_model, generator=g)
    codes = torch.randint(model.n_codes, (2, n), generator=g)
    style = model.style_vectors(torch.tensor([0, 2]))
    return codes, audio, style


def tiny_gpt() -> PoseGPT:
    return PoseGPT(CONFIG.pose_gpt, n_codes=CONFIG.pose_vqvae.codebook_size, audio_dim=CONFIG.expression.d_model)


def test_posegpt_shapes_gradients_and_causality():
    torch.manual_seed(0)
    model = tiny_gpt()
    codes, audio, style = gpt_inputs(model, 10, seed=0)
    logits = model(codes, audio, style)
    assert logits.shape == (2, 10, CONFIG.pose_vqvae.codebook_size)
    F.cross_entropy(logits.flatten(0, 1), codes.flatten()).backward()
    for name, p in model.named_parameters():
        if name == "style_embedding.weight":  # only the rows of the styles in the batch
            assert p.grad[[0, 2]].abs().sum() > 0 and p.grad[1].abs().sum() == 0
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    # Changing code 6 may only change the predictions for steps 7 onwards.
    model.eval()
    changed = codes.clone()
    changed[:, 6] = (changed[:, 6] + 1) % model.n_codes
    difference = (model(changed, audio, style) - model(codes, audio, style)).abs().amax(dim=(0, 2))
    assert difference[:7].max() == 0 and difference[7:].min() > 0


def test_posegpt_training_lowers_cross_entropy():
    torch.manual_seed(0)
    model = tiny_gpt()
    codes, audio, style_ids = *gpt_inputs(model, 12, seed=1)[:2], torch.tensor([0, 2])
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        optimiser.zero_grad()
        logits = model(codes, audio, model.style_vectors(style_ids))
        loss = F.cross_entropy(logits.flatten(0, 1), codes.flatten())
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def confident_gpt() -> PoseGPT:
    """A random model with peaked predictions, so any error in the cache or positions changes the samples."""
    model = tiny_gpt().eval()
    with torch.no_grad():
        model.head.weight.mul_(10)
    return model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_and_uncached_sampling_agree(seed):
    torch.manual_seed(seed)
    model = confident_gpt()
    _, audio, style = gpt_inputs(model, 14, seed=seed)
    runs = [
        model.generate(
            audio, style, temperature=1.0, top_p=0.9, generator=torch.Generator().manual_seed(seed), use_cache=use_cache
        )
        for use_cache in (True, False, True)
    ]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])
    other_seed = model.generate(audio, style, generator=torch.Generator().manual_seed(seed + 100))
    assert not torch.equal(runs[0], other_seed)


def test_prompted_sampling_continues_the_prompt_alike_cached_or_not():
    torch.manual_seed(3)
    model = confident_gpt()
    codes, audio, style = gpt_inputs(model, 12, seed=3)
    cached, uncached = (
        model.generate(
            audio, style, generator=torch.Generator().manual_seed(5), prompt=codes[:, :4], use_cache=use_cache
        )
        for use_cache in (True, False)
    )
    assert torch.equal(cached[:, :4], codes[:, :4])
    assert torch.equal(cached, uncached)


def test_greedy_sampling_follows_the_teacher_forced_argmax():
    torch.manual_seed(4)
    model = confident_gpt()
    _, audio, style = gpt_inputs(model, 10, seed=4)
    greedy = model.generate(audio, style, temperature=0.0)
    assert torch.equal(model(greedy, audio, style).argmax(-1), greedy)
    nucleus_of_one = model.generate(audio, style, top_p=1e-6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(nucleus_of_one, greedy)


def test_nucleus_sampling_never_leaves_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(2000, 4)
    picks = sample_code(logits, 1.0, 0.75, torch.Generator().manual_seed(0))
    counts = torch.bincount(picks, minlength=4)
    assert counts[2:].sum() == 0  # 0.5 + 0.3 already cover 0.75
    assert abs(counts[0].item() / 2000 - 0.5 / 0.8) < 0.05


def test_pool_to_code_rate_averages_each_group_and_the_remainder():
    frames = torch.arange(10, dtype=torch.float32).view(1, 10, 1)
    pooled = pool_to_code_rate(frames, 4)
    assert pooled.flatten().tolist() == [1.5, 5.5, 8.5]


def test_all_parts_build_from_one_config():
    models = AdaMeshModels(CONFIG)
    prefixes = {name.split(".")[0] for name in models.state_dict()}
    assert prefixes == {"expression", "pose_vqvae", "pose_gpt"}
