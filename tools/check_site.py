"""Check the built documentation site's internal links, with no network.

Every ``href`` and ``src`` of every HTML page that points inside the site must name a
file that exists, and its ``#fragment`` (if any) an ``id`` on that page.  Links out of
the site (``http(s):``, ``mailto:``) are listed, not fetched.  Exit status 1 and one
line per broken link otherwise.

Usage: ``python tools/check_site.py docs/_build/html``
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXTERNAL = ("http", "https", "mailto", "data", "javascript", "tel")


class _Page(HTMLParser):
    """The link targets and the element ids of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            elif name in ("href", "src"):
                self.links.append(value)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def check(root: Path) -> tuple[list[str], set[str]]:
    """Broken internal links (as messages) and the external URLs seen."""
    # _static/ holds the theme's assets (its .html files are Jinja macros, not pages)
    pages = {p.resolve(): parse(p) for p in root.rglob("*.html")
             if "_static" not in p.relative_to(root).parts}  # fmt: skip
    broken: list[str] = []
    external: set[str] = set()
    for path, page in sorted(pages.items()):
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme in EXTERNAL or parts.netloc:
                external.add(link)
                continue
            where = path.relative_to(root.resolve())
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{where}: {link} (no file {target})")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where}: {link} (no id {parts.fragment!r})")
    return broken, external


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    root = Path(argv[0])
    if not (root / "index.html").is_file():
        print(f"{root}: no index.html (build the site first: make docs)", file=sys.stderr)
        return 2
    broken, external = check(root)
    n_pages = sum(1 for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)
    for line in broken:
        print(line)
    print(f"{n_pages} pages, {len(broken)} broken internal links, "
          f"{len(external)} external links (not fetched)")  # fmt: skip
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
