"""Screenshots of the Studies page in Chromium, and the width of its main map.

    .venv/bin/python bench/screenshots.py --out docs/images

Trains a small study (scikit-learn's digits, 4 + 4 trials of 1 epoch) into a fresh
database, serves the dashboard on it, and opens Studies at 1440 x 900 and 1920 x 1080.
Writes ``studies-<width>.png`` (the whole page) and ``map-<width>.png`` (the GP mean map
alone), and prints the plotting area of the map at each size (the target: at least 450 px
wide at 1440-1500 px).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.browser import CHROMIUM, Server, launch
from core.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((1440, 900), (1920, 1080))
MAP_TITLE = "GP mean"


def map_area(page: Any) -> dict[str, float]:
    """The GP mean map's plotting area in CSS pixels (Plotly's ``_fullLayout._size``)."""
    return page.evaluate(
        """(title) => {
            for (const div of document.querySelectorAll('.js-plotly-plot')) {
                const layout = div._fullLayout;
                const text = layout && layout.title && layout.title.text;
                if (text && text.includes(title)) {
                    return {w: layout._size.w, h: layout._size.h};
                }
            }
            return null;
        }""",
        MAP_TITLE,
    )


def open_studies(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/studies")
    page.get_by_text(f"{name} — complete").wait_for()
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.js-plotly-plot')].some("
        "d => d._fullLayout && d._fullLayout.title && "
        "(d._fullLayout.title.text || '').includes(t))",
        arg=MAP_TITLE,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"Debian's chromium is not installed ({CHROMIUM})", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "studies.db"
        code = cli(
            ["tune", "--dataset", "digits", "--init-points", "4", "--n-iter", "4",
             "--epochs", "1", "--pruner", "none", "--db", str(db), "--name", "digits-demo"],
            out=io.StringIO(), err=sys.stderr,
        )  # fmt: skip
        if code != 0:
            return code
        server = Server(db).start()
        try:
            with sync_playwright() as p:
                browser = launch(p)
                for width, height in SIZES:
                    page = browser.new_page(viewport={"width": width, "height": height})
                    open_studies(page, server.url, "digits-demo")
                    area = map_area(page)
                    page.screenshot(path=str(args.out / f"studies-{width}.png"), full_page=True)
                    plot = page.locator(".js-plotly-plot").filter(has_text=MAP_TITLE).first
                    plot.screenshot(path=str(args.out / f"map-{width}.png"))
                    print(f"{width} x {height}: the GP mean map's plotting area is "
                          f"{area['w']:.0f} x {area['h']:.0f} px")  # fmt: skip
                    page.close()
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
