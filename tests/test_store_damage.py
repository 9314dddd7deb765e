"""A store that lost committed data (its -wal file cut short or gone) or whose database file is
damaged: the server refuses to start with a one-line error naming the file, or, with
`--repair` (`store_repair`), keeps what can be read, sets the damaged files aside, says what it
kept and starts. A plain `kill -9` without damage still restarts with nothing lost.

Real server processes (SIGKILL, exit status, the log), on 127.0.0.1 only; every wait bounded.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from pathlib import Path

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.state import Backend
from mock_hyber.store import salvage as salvage_module
from mock_hyber.store.salvage import salvage
from mock_hyber.store.sqlite import StoreDamaged, check
from tests.server_process import ServerProcess
from tests.test_persistence import batch, frozen, in_process, send_sync

JOBS = 20


def write_jobs(http: httpx.Client, count: int = JOBS) -> list[str]:
    """`count` jobs of two recipients each; their job ids, oldest first."""
    for n in range(count):
        send_sync(http, batch([f"3805011{n:05d}", f"3806722{n:05d}"]))
    jobs = http.get("/_mock/jobs", params={"limit": 1000}).json()["jobs"]
    assert len(jobs) == count
    return [job["job_id"] for job in jobs]


def killed_with_jobs(tmp_path: Path) -> tuple[ServerProcess, list[str]]:
    """A server killed (-9) after answering JOBS acceptances; nothing flushed but the commits."""
    server = frozen(tmp_path, MOCK_HYBER_STORE_FLUSH_INTERVAL="30")
    server.start()
    with server.client() as http:
        job_ids = write_jobs(http)
    server.kill()
    return server, job_ids


def refused(server: ServerProcess, **env: str) -> str:
    """Start, expecting the clean refusal: exit status 2 and one line of error, no traceback."""
    with pytest.raises(RuntimeError, match="exited with 2") as failure:
        server.start(**env)
    assert "Traceback" not in str(failure.value)
    text = server._read("err", server.runs)  # this run's output only
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def served_jobs(http: httpx.Client) -> list[str]:
    jobs = http.get("/_mock/jobs", params={"limit": 1000}).json()["jobs"]
    return [job["job_id"] for job in jobs]


def test_a_plain_kill_loses_nothing_and_restarts_without_complaint(tmp_path: Path) -> None:
    server, job_ids = killed_with_jobs(tmp_path)
    try:
        assert Path(f"{tmp_path}/mock.db-wal").stat().st_size > 0  # the commits are in the WAL
        server.start()
        with server.client() as http:
            assert sorted(served_jobs(http)) == sorted(job_ids)
            send_sync(http, batch(["380501119999"]))
        server.kill()
        # --repair on a sound store does nothing.
        server.start(MOCK_HYBER_STORE_REPAIR="true")
        with server.client() as http:
            assert len(served_jobs(http)) == JOBS + 1
        assert "WARNING" not in server.err and "ERROR" not in server.err
        assert not [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    finally:
        server.kill()


def test_a_wal_cut_in_half_is_refused_then_repaired_with_what_it_kept(tmp_path: Path) -> None:
    server, job_ids = killed_with_jobs(tmp_path)
    try:
        wal = Path(f"{tmp_path}/mock.db-wal")
        os.truncate(wal, wal.stat().st_size // 2)

        files = {p.name: p.read_bytes() for p in (wal, tmp_path / "mock.db")}
        line = refused(server)
        assert "mock.db" in line and "--repair" in line
        assert re.search(r"lost committed data: it holds \d+ of the \d+ commits", line), line
        # Refusing changed nothing: the same files, and the same refusal again.
        assert {p.name: p.read_bytes() for p in (wal, tmp_path / "mock.db")} == files
        assert refused(server).split("cannot start")[1] == line.split("cannot start")[1]

        server.start(MOCK_HYBER_STORE_REPAIR="true")
        with server.client() as http:
            kept = served_jobs(http)
            assert 0 < len(kept) < JOBS
            assert set(kept) <= set(job_ids)
            for job_id in kept:  # each kept job whole
                job = http.get(f"/_mock/jobs/{job_id}").json()
                assert len(job["messages"]) == 2
        warning = [line for line in server.err.splitlines() if "repaired" in line]
        assert len(warning) == 1 and "WARNING" in warning[0], server.err
        assert f"kept {len(kept)} jobs" in warning[0]
        aside = [p.name for p in tmp_path.iterdir() if ".damaged-" in p.name]
        assert any(name.endswith("-wal") for name in aside), aside
        assert any(re.fullmatch(r"mock\.db\.damaged-\d{8}T\d{6}Z", name) for name in aside)
        assert "damaged-" in warning[0]
        server.kill()

        # The repaired store is whole: a plain restart serves the same jobs, without a word.
        runs = server.runs
        server.start()
        with server.client() as http:
            assert sorted(served_jobs(http)) == sorted(kept)
        assert "WARNING" not in server._read("err", runs + 1)
    finally:
        server.kill()


def test_a_store_that_lost_its_wal_is_refused(tmp_path: Path) -> None:
    server, _ = killed_with_jobs(tmp_path)
    try:
        Path(f"{tmp_path}/mock.db-wal").unlink()
        line = refused(server)
        assert "mock.db" in line and "--repair" in line
    finally:
        server.kill()


def test_a_damaged_database_file_is_repaired_keeping_the_readable_jobs(tmp_path: Path) -> None:
    """Bytes overwritten in the middle of the database file (not the WAL): refused, then with
    --repair the jobs on pages left intact come back and the damaged file is set aside."""
    with in_process(tmp_path) as http:
        for n in range(200):
            send_sync(http, batch([f"3805011{n:05d}"]))
        job_ids = served_jobs(http)
    path = tmp_path / "mock.db"
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle : middle + page] = b"\xde\xad\xbe\xef" * (page // 4)
    path.write_bytes(bytes(data))

    server = frozen(tmp_path)
    try:
        line = refused(server)
        assert "mock.db" in line and "damaged" in line and "--repair" in line
        server.start(MOCK_HYBER_STORE_REPAIR="1")
        with server.client() as http:
            kept = served_jobs(http)
        assert 0 < len(kept) < len(job_ids) and set(kept) <= set(job_ids)
        assert f"kept {len(kept)} jobs" in server.err
    finally:
        server.kill()


def test_a_store_with_nothing_readable_is_repaired_by_starting_empty(tmp_path: Path) -> None:
    with in_process(tmp_path) as http:
        send_sync(http, batch(["380501110001"]))
    path = tmp_path / "mock.db"
    path.write_bytes(b"\x00" * 100 + path.read_bytes()[100:])  # the header is gone

    server = frozen(tmp_path)
    try:
        line = refused(server)
        assert "mock.db" in line and "--repair" in line
        server.args = ["--repair"]  # the command-line flag this time
        server.start()
        with server.client() as http:
            assert served_jobs(http) == []
        assert "nothing could be read" in server.err
    finally:
        server.kill()


def marked_store(tmp_path: Path, count: int) -> bytes:
    """A store of `count` one-message jobs tagged MARK-nnnn- (findable in its pages), as
    bytes."""
    with in_process(tmp_path) as http:
        for n in range(count):
            body = batch([f"3805011{n:05d}"])
            body["tag"] = f"MARK-{n:04d}-"
            send_sync(http, body)
    return (tmp_path / "mock.db").read_bytes()


def test_a_repair_reads_past_a_damaged_page(tmp_path: Path) -> None:
    """One page of the jobs table overwritten: the jobs on it are lost, those on the pages
    after it are kept (the scan steps over the damage instead of stopping there)."""
    path = tmp_path / "mock.db"
    data = bytearray(marked_store(tmp_path, 300))
    page = 4096
    at = data.index(b"MARK-0150-") // page * page
    lost = {int(tag[5:9]) for tag in re.findall(rb"MARK-\d{4}-", bytes(data[at : at + page]))}
    data[at : at + page] = b"\xde\xad\xbe\xef" * (page // 4)
    path.write_bytes(bytes(data))

    result = salvage(path)
    assert result.damaged_regions >= 1
    assert result.kept["jobs"] == 300 - len(lost)
    assert result.aside is not None and result.aside.exists()
    with in_process(tmp_path) as http:
        jobs = http.get("/_mock/jobs", params={"limit": 1000}).json()["jobs"]
        tags = {int(job["tag"][5:9]) for job in jobs}
    assert 150 in lost and tags == set(range(300)) - lost
    assert max(tags) == 299  # the rows after the damaged page too


def test_a_row_that_reads_but_does_not_decode_is_refused_then_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The pages are sound (quick_check passes) but one job's columns are not what this
    version wrote: refused, naming the file; with a repair the other jobs start."""
    with in_process(tmp_path) as http:
        for n in range(3):
            send_sync(http, batch([f"3805011{n:05d}"]))
        job_ids = served_jobs(http)
    with sqlite3.connect(tmp_path / "mock.db") as db:
        db.execute("UPDATE jobs SET channels = '[not json' WHERE job_id = ?", (job_ids[1],))
    settings = Settings(
        accounts="1001:alice:secret", store=f"sqlite:///{tmp_path}/mock.db", clock_frozen=True
    )
    with pytest.raises(StoreDamaged, match=r"mock\.db is damaged .*--repair"):
        Backend(settings)

    with caplog.at_level(logging.WARNING, "mock_hyber.store"):
        backend = Backend(settings.model_copy(update={"store_repair": True}))
    try:
        kept = sorted(backend.accounts["1001"].store.jobs)
        assert kept == sorted([job_ids[0], job_ids[2]])
        assert "kept 2 jobs" in caplog.text and "1 rows that did not decode" in caplog.text
    finally:
        assert backend.journal is not None
        backend.journal.close(backend.snapshots())


def test_a_store_without_its_commit_record_starts_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Copied without its -commits file: it cannot be checked for lost commits, and says so."""
    with in_process(tmp_path) as http:
        send_sync(http, batch(["380501110001"]))
    (tmp_path / "mock.db-commits").unlink()
    settings = Settings(accounts="1001:alice:secret", store=f"sqlite:///{tmp_path}/mock.db")
    with caplog.at_level(logging.WARNING, "mock_hyber.store"):
        backend = Backend(settings)
    assert backend.journal is not None
    backend.journal.close(backend.snapshots())
    assert len(backend.accounts["1001"].store.jobs) == 1
    assert "no commit record" in caplog.text and "mock.db-commits" in caplog.text
    assert (tmp_path / "mock.db-commits").exists()  # written again: the next start is checked


def test_a_repair_stopped_before_the_swap_leaves_a_store_that_is_refused_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fresh store is put in place last: a repair that stops before (here the rename
    fails, as a kill would stop it) leaves the damaged store where it was, refused again, and
    a second repair finishes the job."""
    path = tmp_path / "mock.db"
    data = bytearray(marked_store(tmp_path, 100))
    at = data.index(b"MARK-0050-") // 4096 * 4096
    data[at : at + 4096] = b"\xde\xad\xbe\xef" * 1024
    path.write_bytes(bytes(data))

    def stopped(*_: object) -> None:
        raise OSError("stopped")

    with monkeypatch.context() as patch:
        patch.setattr(salvage_module.os, "replace", stopped)
        with pytest.raises(OSError, match="stopped"):
            salvage(path)
    assert path.read_bytes() == bytes(data)
    with pytest.raises(StoreDamaged):
        check(path)
    result = salvage(path)
    assert 0 < result.kept["jobs"] < 100
    check(path)  # sound now
    assert len([p for p in tmp_path.iterdir() if re.search(r"damaged-[^-]*$", p.name)]) == 2


def test_an_account_state_that_cannot_be_restored_is_refused_then_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with in_process(tmp_path) as http:
        send_sync(http, batch(["380501110001"]))
    with sqlite3.connect(tmp_path / "mock.db") as db:
        db.execute("UPDATE accounts SET state = '{}'")
    settings = Settings(accounts="1001:alice:secret", store=f"sqlite:///{tmp_path}/mock.db")
    with pytest.raises(StoreDamaged, match=r"mock\.db holds a state that cannot be restored"):
        Backend(settings)
    with caplog.at_level(logging.WARNING, "mock_hyber.store"):
        backend = Backend(settings.model_copy(update={"store_repair": True}))
    assert backend.journal is not None
    backend.journal.close(backend.snapshots())
    assert len(backend.accounts["1001"].store.jobs) == 1  # the job stays; the clock starts anew
    assert "kept 1 jobs" in caplog.text and "0 account states" in caplog.text
