"""Resolution does not depend on the process's string hash seed (PYTHONHASHSEED)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from canalis.identity import IdentityConfig
from canalis.identity.features import Frame
from canalis.identity.keys import group_arrays
from tests.identity.identity_synth import make_world

ROOT = Path(__file__).resolve().parents[2]

# Trains on a world whose email links outnumber the per-rule training sample, so the sample is drawn from them.
SCRIPT = """
import json
from canalis.identity import IdentityConfig, IdentityEngine
from tests.identity.identity_synth import make_world

world = make_world(people=1500, seed=5)
engine = IdentityEngine(IdentityConfig(em_sample_pairs=1000, u_sample_pairs=1000))
engine.resolve(world.records)
model = engine.model
print(json.dumps({
    "clusters": sorted(sorted(members) for members in engine.clusters().values()),
    "model": {"m": model.m, "u": model.u, "prior": model.prior},
}))
"""


def test_key_groups_come_in_the_order_of_their_first_row() -> None:
    frame = Frame.from_records(make_world(people=300, seed=3).records, IdentityConfig())
    groups = group_arrays(frame, "email")
    firsts = [groups.members(i)[0] for i in range(len(groups.values))]
    assert len(firsts) > 10
    assert firsts == sorted(firsts)


def _resolve_with_hash_seed(seed: str) -> dict:
    environment = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_two_hash_seeds_train_the_same_model_and_make_the_same_clusters() -> None:
    first, second = _resolve_with_hash_seed("1"), _resolve_with_hash_seed("2")
    assert len(first["clusters"]) > 100
    assert first == second
