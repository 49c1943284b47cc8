"""Model configs: JSON round trip (checkpoint metadata), preset overrides and their errors."""

import pytest

from backend.core.channels import CHANNELS
from backend.core.errors import AdaMeshError
from backend.models.config import ModelConfig


@pytest.mark.parametrize("preset", [ModelConfig.tiny, ModelConfig.starter])
def test_json_round_trip_is_exact(preset):
    config = preset()
    restored = ModelConfig.from_json(config.to_json())
    assert restored == config
    assert isinstance(restored.expression.molora.ranks, tuple)


def test_presets_differ_in_size_not_in_interface():
    tiny, starter = ModelConfig.tiny(), ModelConfig.starter()
    assert tiny.expression.d_model < starter.expression.d_model
    assert tiny.expression.n_expression == starter.expression.n_expression == len(CHANNELS)
    assert starter.expression.n_phones == 40  # 39 ARPAbet phones + SIL


def test_overrides_replace_nested_fields_only():
    config = ModelConfig.starter().with_overrides(
        {"expression": {"molora": {"ranks": [30]}, "expression_head_rank": 16}, "pose_vqvae": {"downsample": 8}}
    )
    assert config.expression.molora.ranks == (30,)
    assert config.expression.molora.alpha == ModelConfig.starter().expression.molora.alpha
    assert config.expression.expression_head_rank == 16
    assert config.pose_vqvae.downsample == 8
    assert config.pose_gpt == ModelConfig.starter().pose_gpt


def test_bad_settings_are_named():
    with pytest.raises(AdaMeshError, match=r"unknown setting config\.expression\.d_modl; known: .*d_model"):
        ModelConfig.starter().with_overrides({"expression": {"d_modl": 3}})
    with pytest.raises(AdaMeshError, match=r"config\.pose_gpt\.n_layers = '4' has the wrong type"):
        ModelConfig.starter().with_overrides({"pose_gpt": {"n_layers": "4"}})
    with pytest.raises(AdaMeshError, match="not valid JSON"):
        ModelConfig.from_json("{expression")
