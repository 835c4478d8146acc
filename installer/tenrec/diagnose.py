"""tenrec diagnose: one tarball of what every node shows, with no secret in it.

The nodes' raw collections (playbooks/diagnose.yml) land in a private directory of the state
dir; every text file is redacted here (each value of secrets.yml, then whatever looks like a
password option or URL credentials), binary files are left out, and the raw files go.
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from tenrec.config import Deployment
from tenrec.paths import StateDir
from tenrec.runner import RunResult, run_playbook
from tenrec.secrets import read_secrets

# option = value lines whose option names a credential, and user:password@ in URLs.
SECRET_OPTION = re.compile(
    r"(?im)^(\s*[\w.-]*(?:password|passwd|secret|token|_key|credential)[\w.-]*\s*[=:]\s*)(\S.*)$"
)
URL_CREDENTIALS = re.compile(r"(://[^:/@\s]+:)(?!\[REDACTED)[^@\s]+@")
REDACTED = "[REDACTED]"


@dataclass
class Bundle:
    path: Path
    nodes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    files: int = 0
    left_out: list[str] = field(default_factory=list)  # binary files
    redactions: int = 0


def redact(text: str, secrets: dict[str, str]) -> tuple[str, int]:
    count = 0
    # Longest first: a secret that contains another is replaced whole.
    for name, value in sorted(secrets.items(), key=lambda item: -len(item[1])):
        if len(value) >= 6 and value in text:
            count += text.count(value)
            text = text.replace(value, f"[REDACTED:{name}]")
    text, options = SECRET_OPTION.subn(
        lambda m: m.group(1) + REDACTED if REDACTED not in m.group(2) else m.group(0), text
    )
    text, urls = URL_CREDENTIALS.subn(lambda m: m.group(1) + REDACTED + "@", text)
    return text, count + options + urls


def secret_values(state: StateDir) -> dict[str, str]:
    found = {}
    for name, value in read_secrets(state.secrets).items():
        if isinstance(value, str):
            found[name] = value
    return found


def add_text(out: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    out.addfile(info, io.BytesIO(data))


def bundle(raw: Path, state: StateDir, destination: Path, result: RunResult, config: Deployment) -> Bundle:
    secrets = secret_values(state)
    found = Bundle(destination)
    top = destination.name.removesuffix(".tar.gz")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(destination, "w:gz") as out:
        for node in config.nodes:
            source = raw / f"{node.name}.tar.gz"
            if not source.exists():
                found.failed.append(node.name)
                continue
            found.nodes.append(node.name)
            with tarfile.open(source, "r:gz") as collected:
                for member in collected.getmembers():
                    if not member.isfile():
                        continue
                    handle = collected.extractfile(member)
                    data = handle.read() if handle else b""
                    try:
                        text = data.decode("utf-8")
                    except UnicodeDecodeError:
                        found.left_out.append(member.name)
                        continue
                    text, count = redact(text, secrets)
                    found.redactions += count
                    found.files += 1
                    add_text(out, f"{top}/{member.name}", text)
        for name in ("install-journal.json", "logs/deploy-last.json", "logs/verify-last.json", "logs/nodes.json"):
            path = state.root / name
            if path.exists():
                text, count = redact(path.read_text(encoding="utf-8", errors="replace"), secrets)
                found.redactions += count
                add_text(out, f"{top}/deploy-host/{Path(name).name}", text)
        failures = "".join(f"  {f.host}: {f.task}: {f.message}\n" for f in result.failures)
        manifest = (
            f"tenrec diagnose of deployment '{config.name}' ({config.release}), {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
            f"nodes collected: {', '.join(found.nodes) or 'none'}\n"
            f"nodes not collected: {', '.join(found.failed) or 'none'}\n{failures}"
            f"text files: {found.files}; values redacted: {found.redactions}\n"
            f"left out (not text): {', '.join(found.left_out) or 'none'}\n"
        )
        add_text(out, f"{top}/MANIFEST.txt", redact(manifest, secrets)[0])
    destination.chmod(0o600)
    return found


def diagnose(config: Deployment, state: StateDir, console: Console, lines: int) -> Bundle:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = state.root / "diagnose" / f"raw-{stamp}"
    raw.mkdir(parents=True, mode=0o700)
    try:
        result = run_playbook(
            state,
            "diagnose.yml",
            console,
            hosts=len(config.nodes),
            label="diagnose",
            extravars={"diagnose_dest": str(raw), "diagnose_lines": lines},
            quiet=True,
        )
        destination = state.root / "diagnose" / f"tenrec-diagnose-{config.name}-{stamp}.tar.gz"
        return bundle(raw, state, destination, result, config)
    finally:
        shutil.rmtree(raw, ignore_errors=True)
