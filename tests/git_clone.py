"""A clone of this checkout for tests of CI's selection scripts, with the working tree's
version of a script committed in it (the script may not be committed yet)."""

from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def clone_with_script(parent: Path, script: str) -> Path:
    path = parent / "tenrec"
    subprocess.run(["git", "clone", "-q", "--shared", str(HERE), str(path)], check=True)
    for key, value in {"user.email": "ci@tenrec.invalid", "user.name": "ci"}.items():
        subprocess.run(["git", "-C", str(path), "config", key, value], check=True)
    copy = path / script
    copy.write_text((HERE / script).read_text())
    copy.chmod(0o755)
    subprocess.run(["git", "-C", str(path), "add", script], check=True)
    subprocess.run(["git", "-C", str(path), "commit", "-qam", "working tree", "--allow-empty"], check=True)
    return path


def needed_after_touching(clone: Path, script: str, touched: str) -> bool:
    """Whether `script --needed-since` asks for its test after a commit that touched one file."""
    git = ["git", "-C", str(clone)]
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    with open(clone / touched, "a", encoding="utf-8") as handle:
        handle.write("\n")
    subprocess.run([*git, "commit", "-qam", f"touch {touched}"], check=True)
    result = subprocess.run([f"./{script}", "--needed-since", base], cwd=clone, check=False)
    return result.returncode == 0
