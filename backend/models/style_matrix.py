"""The semantic-aware pose style matrix (AdaMesh): how a person moves their head for each kind of speech.

Audio features at the code rate are clustered (k-means, centroids fitted once on training audio and stored with
the checkpoint). For one person's motion, row k of the matrix is the mean VQ-encoder output over the codes whose
audio falls in cluster k: comparing rows compares head motion *for the same kind of speech*, which a plain average
over a 10 s reference could not. Clusters the reference never visits are masked out, and similarity uses only the
clusters both matrices have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PoseStyleMatrix:
    means: Tensor  # [..., K, D] mean VQ-encoder output per audio cluster (zero where empty)
    counts: Tensor  # [..., K] codes that fell in each cluster

    @property
    def mask(self) -> Tensor:
        """[..., K] True where the cluster holds at least one code."""
        return self.counts > 0


def assign_clusters(features: Tensor, centroids: Tensor) -> Tensor:
    """features [N, F], centroids [K, F] -> nearest cluster [N]."""
    return torch.cdist(features, centroids).argmin(dim=1)


def fit_audio_clusters(
    features: Tensor, n_clusters: int, iters: int, generator: torch.Generator | None = None
) -> Tensor:
    """k-means (k-means++ seeding, then Lloyd) on code-rate audio features [N, F] -> centroids [K, F]."""
    if len(features) < n_clusters:
        raise ValueError(
            f"need at least {n_clusters} feature vectors to fit {n_clusters} clusters, got {len(features)}"
        )
    features = features.float()
    first = torch.randint(len(features), (1,), generator=generator)
    centroids = [features[first[0]]]
    nearest_sq = (features - centroids[0]).pow(2).sum(1)
    for _ in range(1, n_clusters):
        # Seed far from the chosen centroids (probability ~ squared distance); uniform if all points coincide.
        weights = nearest_sq if nearest_sq.sum() > 0 else torch.ones_like(nearest_sq)
        pick = torch.multinomial(weights, 1, generator=generator)[0]
        centroids.append(features[pick])
        nearest_sq = torch.minimum(nearest_sq, (features - features[pick]).pow(2).sum(1))
    centroids = torch.stack(centroids)
    assignment = None
    for _ in range(iters):
        new_assignment = assign_clusters(features, centroids)
        if assignment is not None and torch.equal(new_assignment, assignment):
            break
        assignment = new_assignment
        counts = torch.bincount(assignment, minlength=n_clusters)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, features)
        filled = counts > 0  # an emptied cluster keeps its centroid
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def build_style_matrix(audio_features: Tensor, encoder_outputs: Tensor, centroids: Tensor) -> PoseStyleMatrix:
    """Code-aligned audio features [N, F] and VQ-encoder outputs [N, D] of one person -> their matrix [K, D]."""
    if len(audio_features) != len(encoder_outputs):
        raise ValueError(
            f"audio features ({len(audio_features)}) and encoder outputs ({len(encoder_outputs)}) "
            "must be aligned code by code"
        )
    n_clusters = len(centroids)
    assignment = assign_clusters(audio_features.float(), centroids)
    counts = torch.bincount(assignment, minlength=n_clusters).float()
    sums = encoder_outputs.new_zeros(n_clusters, encoder_outputs.shape[-1]).index_add_(0, assignment, encoder_outputs)
    return PoseStyleMatrix(sums / counts.clamp_min(1)[:, None], counts)


def stack_style_matrices(matrices: Sequence[PoseStyleMatrix]) -> PoseStyleMatrix:
    """The style bank: one matrix per training style -> means [S, K, D], counts [S, K]."""
    return PoseStyleMatrix(torch.stack([m.means for m in matrices]), torch.stack([m.counts for m in matrices]))


def style_similarity(reference: PoseStyleMatrix, bank: PoseStyleMatrix) -> Tensor:
    """Negative distance of the reference [K, D] to every bank entry [S, K, D] -> [S] (higher = nearer).

    Distance: the mean over clusters seen by both of the Euclidean distance between rows, each cluster weighted by
    how many reference codes it holds (a row averaged over one code is a noisy estimate). Euclidean, not cosine:
    the size of the motion (small vs large nods) is part of the style. -inf where no cluster is shared.
    """
    weight = reference.counts * (reference.mask & bank.mask)  # [S, K]
    distance = (bank.means - reference.means).norm(dim=-1)  # [S, K]
    total = weight.sum(dim=-1)
    mean_distance = (weight * distance).sum(dim=-1) / total.clamp_min(1e-12)
    return torch.where(total > 0, -mean_distance, torch.full_like(mean_distance, -torch.inf))


def retrieve(reference: PoseStyleMatrix, bank: PoseStyleMatrix, k: int | None = None) -> tuple[Tensor, Tensor]:
    """The k nearest bank entries (all if k is None), nearest first -> (indices [k], similarities [k])."""
    similarities = style_similarity(reference, bank)
    top = similarities.topk(len(similarities) if k is None else min(k, len(similarities)))
    return top.indices, top.values


def blend_weights(similarities: Tensor) -> Tensor:
    """Weights [k] summing to 1 for retrieved styles, inversely proportional to their distance.

    Scale-free (no temperature to tune against the feature size); an exact match takes all the weight, and
    entries sharing no cluster with the reference (-inf) take none.
    """
    distance = -similarities
    usable = torch.isfinite(distance)
    if not usable.any():
        raise ValueError("the reference shares no audio cluster with any retrieved style")
    nearest = distance[usable].min()
    if nearest == 0:
        weights = (distance == 0).to(similarities.dtype)
    else:
        weights = torch.where(usable, nearest / distance, torch.zeros_like(distance))
    return weights / weights.sum()
