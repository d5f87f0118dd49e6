"""tools/check_site.py finds broken internal links and anchors of a built site."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_site", ROOT / "tools" / "check_site.py")
check_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_site)


def write(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")


def test_sound_site_passes_broken_links_and_anchors_are_named(tmp_path, capsys):
    write(tmp_path / "index.html",
          '<a href="api/a.html#fit">a</a> <a href="https://example.org/x">out</a>'
          '<img src="_images/fig.png"> <a href="#top" id="top">top</a>')  # fmt: skip
    write(tmp_path / "api" / "a.html", '<h1 id="fit">fit</h1><a href="../index.html">up</a>')
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "fig.png").write_bytes(b"png")
    assert check_site.main([str(tmp_path)]) == 0
    assert "0 broken internal links, 1 external" in capsys.readouterr().out

    write(tmp_path / "api" / "b.html",
          '<a href="a.html#predict">x</a><a href="missing.html">y</a><img src="../no.png">')
    assert check_site.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "api/b.html: a.html#predict (no id 'predict')" in out
    assert "api/b.html: missing.html (no file" in out
    assert "api/b.html: ../no.png (no file" in out
    assert "3 broken internal links" in out


def test_refuses_a_folder_without_a_site(tmp_path):
    assert check_site.main([str(tmp_path)]) == 2
