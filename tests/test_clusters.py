"""Average-linkage clustering on cosine similarity, worked by hand."""

from __future__ import annotations

import numpy as np

from bot.clusters import cluster, most_central


def test_average_linkage_merges_while_the_mean_similarity_holds() -> None:
    vectors = np.array(
        [
            (1.0, 0.0, 0.0),  # 0
            (0.0, 0.0, 2.0),  # 1: length does not matter
            (0.96, 0.28, 0.0),  # 2: 0.96 to 0
            (0.96, -0.28, 0.0),  # 3: 0.96 to 0, 0.8432 to 2
            (0.0, 0.28, 0.96),  # 4: 0.96 to 1
        ]
    )
    # 0+2 (0.96, the first of the ties), 1+4 (0.96), then 3 joins {0, 2} at the mean of
    # 0.96 and 0.8432 = 0.9016.
    assert cluster(vectors, threshold=0.90) == [[0, 2, 3], [1, 4]]
    # At 0.91 the mean 0.9016 is too low: 3 stays alone (single linkage would take it).
    assert cluster(vectors, threshold=0.91) == [[0, 2], [1, 4], [3]]
    # Complete linkage would stop at 0.8432 too; average linkage merges at 0.85.
    assert cluster(vectors, threshold=0.85) == [[0, 2, 3], [1, 4]]
    assert cluster(vectors, threshold=0.97) == [[0], [1], [2], [3], [4]]


def test_groups_are_ordered_largest_first_then_by_first_member() -> None:
    vectors = np.array([(0.0, 1.0), (1.0, 0.0), (1.0, 0.01), (0.0, 1.0), (1.0, -0.01)])
    assert cluster(vectors, threshold=0.99) == [[1, 2, 4], [0, 3]]
    assert cluster(np.zeros((0, 3))) == []


def test_the_most_central_member_names_the_group() -> None:
    vectors = np.array([(0.96, 0.28, 0.0), (1.0, 0.0, 0.0), (0.96, -0.28, 0.0)])
    # Mean similarity to the others: 0 -> (0.96 + 0.8432)/2, 1 -> 0.96, 2 -> like 0.
    assert most_central(vectors, [0, 1, 2]) == 1
    assert most_central(vectors, [0, 2]) == 0  # a tie: the first
    assert most_central(vectors, [2]) == 2
