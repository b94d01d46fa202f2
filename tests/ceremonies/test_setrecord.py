"""The set record in the log holds the largest set SPIKE can make."""

from __future__ import annotations

from custody.log.canonical import check_payload
from custody.shards import MAX_SHARD_ID


def test_the_record_of_a_thousand_shard_set_with_its_files_fits_one_entry() -> None:
    # The shape of intake.set at its largest: threshold = shards = 1000, one file per shard.
    point = "02" + "ab" * 32
    payload = {
        "fingerprint": point, "fingerprint_short": "WRTA-72KX-4HS5-G577",
        "threshold": MAX_SHARD_ID, "ids": list(range(1, MAX_SHARD_ID + 1)),
        "commitments": [point] * MAX_SHARD_ID, "commitments_sha256": "00" * 32,
        "files": [
            {"name": f"spike.recovery.{i}.txt", "sha256": "00" * 32}
            for i in range(1, MAX_SHARD_ID + 1)
        ],
    }  # fmt: skip
    check_payload(payload)
