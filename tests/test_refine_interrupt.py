"""Ctrl-C in `tipr-bench refine`, as a user presses it: exit 130 and one line saying how to resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.openai_server import OpenAIServer
from tests.support.refine_fixtures import make_workspace, responder


@pytest.mark.slow
def test_ctrl_c_in_refine_says_how_to_resume(tmp_path):
    make_workspace(tmp_path).close()
    with OpenAIServer(responder=responder({}), latency=10.0) as server:
        # Ctrl-C as in a terminal (a background test run ignores SIGINT, and its children would inherit that)
        proc = subprocess.Popen([sys.executable, "-m", "tipr_bench", "refine", "--lang", "zh", "--base-url",
                                 server.base_url, "--model", "test-model", "-w", str(tmp_path / "ws")],
                                env={**os.environ, "OPENAI_API_KEY": "", "NO_COLOR": "1"}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while server.request_count == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run the same command again to resume" in err and "Traceback" not in err
