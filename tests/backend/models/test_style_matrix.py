"""Pose style matrix: clustering, per-cluster means with masking, similarity over shared clusters, retrieval."""

import pytest
import torch

from backend.models.style_matrix import (
    PoseStyleMatrix,
    blend_weights,
    build_style_matrix,
    fit_audio_clusters,
    retrieve,
    stack_style_matrices,
    style_similarity,
)

CENTROIDS = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def test_kmeans_finds_separated_blobs():
    g = torch.Generator().manual_seed(0)
    blobs = CENTROIDS[torch.arange(300) % 3] + 0.3 * torch.randn(300, 2, generator=g)
    found = fit_audio_clusters(blobs, 3, iters=20, generator=torch.Generator().manual_seed(1))
    order = torch.cdist(CENTROIDS, found).argmin(dim=1)
    assert sorted(order.tolist()) == [0, 1, 2]
    torch.testing.assert_close(found[order], CENTROIDS, atol=0.1, rtol=0)
    with pytest.raises(ValueError, match="at least 3"):
        fit_audio_clusters(blobs[:2], 3, iters=5)


def test_matrix_rows_are_cluster_means_and_unvisited_clusters_are_masked():
    audio = torch.tensor([[0.1, 0.0], [9.9, 0.2], [0.0, -0.2], [10.2, 0.1]])  # clusters 0, 1, 0, 1; never 2
    encoder = torch.tensor([[1.0, 2.0], [5.0, 5.0], [3.0, 4.0], [7.0, 5.0]])
    matrix = build_style_matrix(audio, encoder, CENTROIDS)
    assert matrix.counts.tolist() == [2.0, 2.0, 0.0]
    assert matrix.mask.tolist() == [True, True, False]
    torch.testing.assert_close(matrix.means, torch.tensor([[2.0, 3.0], [6.0, 5.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="aligned"):
        build_style_matrix(audio, encoder[:3], CENTROIDS)


def matrix(rows, counts) -> PoseStyleMatrix:
    return PoseStyleMatrix(torch.tensor(rows, dtype=torch.float32), torch.tensor(counts, dtype=torch.float32))


def test_similarity_uses_only_shared_clusters_weighted_by_the_reference():
    reference = matrix([[0, 0], [0, 0], [0, 0]], [3, 1, 0])  # cluster 2 never seen in the reference
    bank = stack_style_matrices(
        [
            matrix([[0, 0], [0, 0], [99, 99]], [5, 5, 5]),  # differs only where the reference has no data
            matrix([[0, 0], [4, 0], [0, 0]], [5, 5, 5]),  # 4 away on the reference's rare cluster
            matrix([[4, 0], [0, 0], [0, 0]], [5, 5, 5]),  # 4 away on the reference's frequent cluster
            matrix([[4, 0], [0, 0], [0, 0]], [5, 0, 5]),  # only cluster 0 shared
            matrix([[0, 0], [0, 0], [0, 0]], [0, 0, 5]),  # nothing shared
        ]
    )
    similarity = style_similarity(reference, bank)
    expected = torch.tensor([0.0, -4 * 1 / 4, -4 * 3 / 4, -4.0, -torch.inf])
    torch.testing.assert_close(similarity, expected)


def test_retrieval_ranks_and_blends_the_nearest_styles():
    reference = matrix([[1, 1], [2, 2]], [4, 4])
    bank = stack_style_matrices(
        [
            matrix([[1, 3], [2, 2]], [4, 4]),  # distance 1
            matrix([[1, 1], [2, 2]], [0, 0]),  # nothing shared
            matrix([[1, 5], [2, 2]], [4, 4]),  # distance 2
            matrix([[1, 1], [2, 10]], [4, 4]),  # distance 4
        ]
    )
    indices, similarities = retrieve(reference, bank, k=3)
    assert indices.tolist() == [0, 2, 3]
    torch.testing.assert_close(similarities, torch.tensor([-1.0, -2.0, -4.0]))
    torch.testing.assert_close(blend_weights(similarities), torch.tensor([4.0, 2.0, 1.0]) / 7)
    all_indices, _ = retrieve(reference, bank)
    assert all_indices.tolist() == [0, 2, 3, 1]


def test_blend_weights_exact_match_takes_all_and_no_match_is_refused():
    torch.testing.assert_close(blend_weights(torch.tensor([0.0, -1.0, -torch.inf])), torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(blend_weights(torch.tensor([-2.0, -torch.inf])), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="shares no audio cluster"):
        blend_weights(torch.tensor([-torch.inf, -torch.inf]))
