"""Random and mutated bytes fed to every reader through the public ingest path (#8).

The only outcomes allowed are success, or exit 2 with one message that names the file and a store
left exactly as it was. Anything else (exit 1, a traceback, a half-written store) fails.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.cli import main
from pipelines.ingest.readers import READERS
from tests.conftest import dump
from tests.reliability import copy_store, count, integrity, record
from tests.samples import SAMPLES

EXAMPLES = count(25, 300)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A store holding one good CSV, to copy before every fuzzed ingest."""
    from tests.samples import write_csv

    folder = tmp_path_factory.mktemp("pristine")
    path = folder / "store.sqlite"
    assert main(["ingest", "--db", str(path), str(write_csv(folder))]) == 0
    return path


def _mutate(data: bytes, draw) -> bytes:
    """Flip, delete, insert, duplicate or truncate a few spans of a valid file."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "repeat", "truncate"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[at] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif op == "repeat":
            out[at:at] = out[at : at + draw(st.integers(1, 256))] * draw(st.integers(2, 8))
        elif op == "truncate":
            del out[at:]
    return bytes(out)


def _ingest(db: Path, path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["ingest", "--db", str(db), str(path), "--field", "mental_health"])
    return status, err.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_random_and_mutated_bytes_succeed_or_fail_cleanly(name, pristine, tmp_path):
    writer, _, _ = SAMPLES[name]
    valid = writer(tmp_path).read_bytes()
    extension = READERS[name].extensions[0]
    before = dump(pristine)
    outcomes = {"ok": 0, "refused": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data):
        if data.draw(st.booleans(), label="random rather than mutated"):
            content = data.draw(st.binary(min_size=1, max_size=4096), label="bytes")
        else:
            content = data.draw(st.builds(lambda: None).flatmap(lambda _: st.just(valid)))
            content = _mutate(content, data.draw)
        case = tmp_path / "case"
        shutil.rmtree(case, ignore_errors=True)
        case.mkdir()
        db = case / "store.sqlite"
        copy_store(pristine, db)
        path = case / f"fuzzed{extension}"
        path.write_bytes(content)
        status, err = _ingest(db, path)
        assert status in (0, 2), err
        assert integrity(db) == "ok"
        if status == 2:
            assert err.startswith("error: "), err
            assert len(err.strip().splitlines()) == 1, err
            assert str(path) in err, err
            assert dump(db) == before
            outcomes["refused"] += 1
        else:
            assert set(before) <= set(dump(db))
            outcomes["ok"] += 1

    check()
    record(f"fuzz {name}", inputs=sum(outcomes.values()), **outcomes)
