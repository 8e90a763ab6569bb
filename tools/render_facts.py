"""Refill every quoted number from its source: ``<!-- fact: SPEC -->…<!-- /fact -->`` spans in the
notebooks' markdown, the README and the docs (see maskgit_lib/course/facts.py).

    python tools/render_facts.py          # rewrite what is out of date, name each file changed
    python tools/render_facts.py --check  # change nothing; exit 1 and name the stale files

Run it after a measurement changes a results file, then ``make learner`` (the learner edition is
generated from the notebooks, so it follows).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from maskgit_lib.course.facts import render

ROOT = Path(__file__).resolve().parent.parent


def texts(root: Path) -> list[Path]:
    """Every file whose prose may quote a fact."""
    pages = [root / "README.md", root / "ARCHITECTURE.md", *sorted((root / "docs").rglob("*.md"))]
    return [p for p in pages if p.is_file()] + sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def rendered(path: Path, root: Path) -> str:
    text = path.read_text()
    if path.suffix != ".ipynb":
        return render(text, root)
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            new = render(source, root)
            if new != source:
                cell["source"] = new.splitlines(keepends=True)
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def stale(root: Path, write: bool) -> list[Path]:
    changed = []
    for path in texts(root):
        new = rendered(path, root)
        if new != path.read_text():
            changed.append(path)
            if write:
                path.write_text(new)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a fact is out of date")
    args = parser.parse_args(argv)
    changed = stale(ROOT, write=not args.check)
    for path in changed:
        print(f"{'stale' if args.check else 'rendered'}: {path.relative_to(ROOT)}")
    if args.check and changed:
        print("run `make facts` (python tools/render_facts.py), then `make learner`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
