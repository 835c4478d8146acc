"""Run ansible or ansible-playbook from this checkout on the test machine, with JSON output."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def ansible_env(home: Path) -> dict[str, str]:
    """The repo's ansible.cfg, JSON results on stdout, an ANSIBLE_HOME of the test's own."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_HOME": str(home),
    }


def run_json(tool: str, args: list[str], home: Path) -> dict:
    """Run `ansible` or `ansible-playbook` (beside the Python running pytest); its JSON result."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / tool), *args],
        cwd=REPO,
        env=ansible_env(home),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.stdout, done.stderr
    return json.loads(done.stdout)
