"""The clients' static types as a user's type checker sees them: mypy on tests/typing/.

tests/typing/check_clients.py states, with assert_type, what each resource method of both
clients gives (awaited, for the async client); a second, deliberately wrong snippet proves mypy
really reads the SDK's types rather than passing everything as Any. Only those files are
checked (`--follow-imports=silent`): the SDK's own modules are read for their types, not linted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parents[2]
CHECKS = SDK / "tests" / "typing" / "check_clients.py"

MISUSE = '''\
from spooled import AsyncSpooledClient, SpooledClient
from spooled.types import QueueStats


async def misuse(client: AsyncSpooledClient, sync: SpooledClient) -> None:
    count: int = await client.queues.get("q")
    stats: QueueStats = sync.queues.get("q")
    name = client.queues.get("q").name
    await sync.queues.get_stats("q")
'''


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for both runs: the second only re-reads what the first analysed."""
    return tmp_path_factory.mktemp("mypy-cache")


def _mypy(cache: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    # MYPYPATH: the working tree's SDK, whatever copy of it the environment has installed.
    env = {**os.environ, "MYPYPATH": str(SDK / "src")}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-pretty",
         "--show-error-codes", "--cache-dir", str(cache), *map(str, files)],
        cwd=SDK, env=env, capture_output=True, text=True, timeout=120)


def test_declared_resource_attributes_match_what_the_clients_build():
    """The class-level declarations type checkers read are the classes _wire_resources sets."""
    from typing import get_type_hints

    from spooled.client import ASYNC_RESOURCES, SYNC_RESOURCES, AsyncSpooledClient, SpooledClient

    for client_class, built in ((SpooledClient, SYNC_RESOURCES), (AsyncSpooledClient, ASYNC_RESOURCES)):
        hints = get_type_hints(client_class)
        assert {name: hints.get(name) for name in built} == built, client_class.__name__


def test_both_clients_have_the_declared_types(mypy_cache: Path):
    done = _mypy(mypy_cache, CHECKS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_rejects_wrong_uses_of_the_clients(mypy_cache: Path, tmp_path: Path):
    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE)
    done = _mypy(mypy_cache, misuse)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = {int(m.group(1)) for m in re.finditer(r"misuse\.py:(\d+): error:", done.stdout)}
    # int <- QueueConfig; QueueStats <- QueueConfig; a coroutine has no `.name`; a sync answer is not awaitable.
    assert lines == {6, 7, 8, 9}, done.stdout
    assert "QueueConfig" in done.stdout and "Coroutine[Any, Any, QueueConfig]" in done.stdout, done.stdout
