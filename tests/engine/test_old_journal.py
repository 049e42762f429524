"""A journal written by older code still recovers, to the same state it held then."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.old_journal import FIXTURE, SUMMARY, summarize
from tests.support.trading_engine import make_engine


def test_a_journal_written_by_older_code_recovers_to_the_state_it_held(tmp_path: Path) -> None:
    copy = tmp_path / FIXTURE.name
    shutil.copyfile(FIXTURE, copy)
    engine = make_engine(copy)
    try:
        assert summarize(engine) == json.loads(SUMMARY.read_text())
    finally:
        engine.close()
        engine.journal.close()
