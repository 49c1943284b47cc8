"""The speed measurement behind `backend bench` runs the whole neural path (tiny models, not a timed test)."""

import torch

from backend.evaluation.model_benchmark import measure_speed
from backend.models.adamesh import AdaMeshModels
from backend.models.config import ModelConfig


def test_speed_is_measured_for_each_part_and_their_sum():
    torch.manual_seed(0)
    speed = measure_speed(AdaMeshModels(ModelConfig.tiny()), seconds=2.0, repeats=1)
    assert speed.expression > 0 and speed.pose > 0
    # Running both takes longer than either alone.
    assert speed.total < min(speed.expression, speed.pose)
    torch.testing.assert_close(1 / speed.total, 1 / speed.expression + 1 / speed.pose)
