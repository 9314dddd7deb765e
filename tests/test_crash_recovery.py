"""Kill -9 at random moments while requests of every size stream in: every job the mock
answered for is there after the restart, with the same ids (issue 10's reliability suite: "kill
-9 at random moments, with zero loss"). Bounded: three kills, each within 1.5 s of its start."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_persistence import AUTH, batch, persistent, recipients

KILLS = 3
SIZES = (1, 20, 500, 5000)  # recipients per request: kills land mid-way through large ones too


class Sender(threading.Thread):
    """Sends batches to the server until told to stop; keeps what was acknowledged (a 200 with
    the message ids), and forgets what was not (a request cut off by the kill)."""

    def __init__(self, url: str, seed: int) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.rng = random.Random(seed)
        self.acknowledged: dict[str, list[str]] = {}  # job id -> message ids in order
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, auth=AUTH, timeout=30) as http:
            while not self.stop.is_set():
                size = self.rng.choice(SIZES)
                body = batch(recipients(size, seed=self.rng.randrange(1 << 30)))
                try:
                    response = http.post("/1001/batch", json=body)
                except httpx.HTTPError:
                    return  # the server died under this request: it was never acknowledged
                if response.status_code == 200:
                    self.acknowledged[response.json()["job_id"]] = []


def _message_ids(http: httpx.Client, job_id: str) -> list[str]:
    response = http.get(f"/1001/status/{job_id}")
    assert response.status_code == 200, (job_id, response.text)
    items: list[dict[str, Any]] = response.json()["messages"]
    return [item["message_id"] for item in items]


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_no_acknowledged_job(tmp_path: Path) -> None:
    rng = random.Random(2026)
    server = persistent(tmp_path, MOCK_HYBER_CLOCK_SPEED="40")
    acknowledged: dict[str, list[str]] = {}
    with server:
        for round_ in range(KILLS):
            if round_:
                server.start()
            with httpx.Client(base_url=server.url, auth=AUTH, timeout=30) as http:
                for job_id in acknowledged:  # what earlier rounds acknowledged is all there
                    ids = _message_ids(http, job_id)
                    assert ids == acknowledged[job_id] or not acknowledged[job_id], job_id
                    acknowledged[job_id] = ids
            sender = Sender(server.url, seed=rng.randrange(1 << 30))
            sender.start()
            time.sleep(rng.uniform(0.3, 1.5))
            server.kill()
            sender.stop.set()
            sender.join(timeout=30)
            assert not sender.is_alive()
            acknowledged.update(sender.acknowledged)
            print(f"round {round_}: {len(sender.acknowledged)} jobs acknowledged before the kill")
        server.start()
        with httpx.Client(base_url=server.url, auth=AUTH, timeout=30) as http:
            for job_id, ids in acknowledged.items():
                found = _message_ids(http, job_id)
                assert found, job_id
                assert not ids or found == ids, job_id
            held = http.get("/_mock/jobs", params={"limit": 0}).json()
    assert len(acknowledged) >= KILLS  # each round got some requests in
    assert held["total"] >= len(acknowledged)
