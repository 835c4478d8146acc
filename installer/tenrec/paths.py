"""Where tenrec finds its collection and keeps its state."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

STATE_DIR_NAME = ".tenrec"


def collection_root() -> Path:
    """The tenrec.cloud collection: inside the wheel, or the checkout this runs from."""
    packaged = Path(__file__).resolve().parent / "collection"
    if (packaged / "galaxy.yml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "galaxy.yml").is_file():
        return checkout
    raise RuntimeError(f"the tenrec.cloud collection is neither in {packaged} nor in {checkout}")


def tenrec_home() -> Path:
    """Lab deployments and other per-user state."""
    return Path(os.environ.get("TENREC_HOME", Path.home() / ".local/share/tenrec"))


def cache_dir() -> Path:
    """Node images and downloads: safe to delete, slow to rebuild."""
    return Path(os.environ.get("TENREC_CACHE", Path.home() / ".cache/tenrec"))


@dataclass(frozen=True)
class StateDir:
    """What tenrec generates for one deployment config, beside that config."""

    root: Path

    @classmethod
    def for_config(cls, config: Path) -> StateDir:
        return cls(config.resolve().parent / STATE_DIR_NAME)

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.yml"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def runner(self) -> Path:
        return self.root / "runner"

    @property
    def collections(self) -> Path:
        return self.root / "collections"

    @property
    def facts(self) -> Path:
        """Ansible's fact cache: the precheck's decisions of nodes a --limit run leaves out."""
        return self.root / "facts"

    @property
    def deployed(self) -> Path:
        """Written after a full deploy succeeded: what --only and --limit build on."""
        return self.root / "deployed.json"

    def mark_deployed(self, release: str) -> None:
        record = {"release": release, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.deployed.write_text(json.dumps(record) + "\n", encoding="utf-8")

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # the secrets live here
        for sub in (self.inventory, self.logs, self.runner):
            sub.mkdir(exist_ok=True)
