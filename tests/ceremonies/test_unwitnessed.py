"""H02: a checkpoint fewer witnesses acknowledged than the script asks for is not final.

The summary sheet with the checkpoint is still printed (the people present see what happened)
but marked UNWITNESSED; no checkpoint file is handed out, the step is not recorded and the
ceremony does not finish. Run again with enough witnesses, it resumes at that step and
prints the real summary, naming them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pypdfium2
import pytest

from custody.appliance import load_appliance
from custody.ceremonies import all_actions
from custody.ceremonies.engine import CeremonyError, run_ceremony
from custody.ceremonies.rehearsal import RehearsalOperator, ceremony_script
from custody.ceremonies.script import Role, Step
from tests.ceremonies.conftest import SAMPLE, Appliance


class OneWitnessAtTheClose(RehearsalOperator):
    def acknowledge(self, step: Step, roles: tuple[Role, ...]) -> Mapping[str, tuple[str, ...]]:
        given = dict(super().acknowledge(step, roles))
        if step.id == "close" and "witness" in given:
            given["witness"] = given["witness"][:1]
        return given


def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def test_h02_an_unwitnessed_checkpoint_is_marked_and_the_ceremony_not_finished(
    appliance: Appliance,
) -> None:
    papers = appliance.root / "papers"
    params = {
        "from": str(appliance.intake_folder), "threshold": "2", "db": str(SAMPLE / "spike.db"),
        "assign": " ".join(f"{i}={f}" for i, f in enumerate(appliance.fingerprints, start=1)),
        "media_out": str(appliance.root / "media"), "papers_out": str(papers),
        "receipts": str(appliance.root / "receipts"), "checkpoint": "none",
        "unsafe_host": "accept",  # this test process is not hardened
    }  # fmt: skip
    script = ceremony_script("intake")
    short = OneWitnessAtTheClose(appliance.keyrings, lambda line: None)
    with load_appliance(appliance.home).open_log() as log:
        with pytest.raises(CeremonyError, match="witness") as refused:
            run_ceremony(appliance.home, log, script, all_actions(), short, params=params)
        assert refused.value.kind == "unwitnessed"
        [marked] = list(papers.glob("summary-UNWITNESSED-*.pdf"))
        assert "UNWITNESSED" in pdf_text(marked.read_bytes())
        assert not (papers / "summary.pdf").exists() and not (papers / "checkpoint.txt").exists()
        [start] = log.entries_of({"ceremony.start"})
        ceremony = str(start.ceremony_id)
        done = [
            e.payload["step"]
            for e in log.entries(ceremony_id=ceremony)
            if e.event == "ceremony.step"
        ]
        assert "close" not in done and "receipts" in done
        assert not [e for e in log.entries(ceremony_id=ceremony) if e.event == "ceremony.finish"]

        enough = RehearsalOperator(appliance.keyrings, lambda line: None)
        run_ceremony(
            appliance.home, log, script, all_actions(), enough, params=params, ceremony_id=ceremony
        )
        summary = pdf_text((papers / "summary.pdf").read_bytes())
        assert "UNWITNESSED" not in summary
        assert "Wes Witness" in summary and "Wanda Witness" in summary
        assert (papers / "checkpoint.txt").exists()
        assert [e.event for e in log.entries(ceremony_id=ceremony)][-1] == "ceremony.finish"
        assert log.verify().size == len(list(log.entries()))
