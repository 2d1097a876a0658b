"""The seven-keys benchmark runs dpsql's whole pipeline and releases every declared key."""

from __future__ import annotations

import numpy as np
import pytest

from bench import seven_keys


@pytest.mark.slow
def test_dpsql_releases_every_declared_combination() -> None:
    report = seven_keys.run(rows=2_000, reps=1, with_smartnoise=False)
    assert report["declared_groups"] == int(np.prod(seven_keys.DOMAINS)) == 39_424
    assert report["dpsql"]["groups"] == [39_424]
    assert report["smartnoise"] is None
