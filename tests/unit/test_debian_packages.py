"""debian_packages: a package's directory unpacked over the one a server is serving from."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.tenrec.cloud.plugins.module_utils.debian_packages import replace_contents


def test_replacing_a_directory_keeps_it_and_mirrors_the_new_contents(tmp_path):

    source, dest = tmp_path / "new", tmp_path / "served"
    (source / "app").mkdir(parents=True)
    (source / "app" / "ui.js").write_text("new ui\n")
    (source / "vnc.html").write_text("new page\n")
    (source / "index.html").symlink_to("vnc.html")
    (dest / "app" / "old").mkdir(parents=True)
    (dest / "app" / "ui.js").write_text("hand-edited ui\n")
    (dest / "app" / "old" / "gone.js").write_text("stale\n")
    (dest / "stale.txt").write_text("stale\n")
    kept = dest.stat().st_ino

    replace_contents(str(source), str(dest))

    assert dest.stat().st_ino == kept  # a process that changed into it keeps serving
    assert (dest / "app" / "ui.js").read_text() == "new ui\n"
    assert (dest / "vnc.html").read_text() == "new page\n"
    assert os.readlink(dest / "index.html") == "vnc.html"
    assert not (dest / "stale.txt").exists()
    assert not (dest / "app" / "old").exists()
