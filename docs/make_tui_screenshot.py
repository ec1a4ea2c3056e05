"""Render docs/tui.png: the dashboard over fixed sample sessions, saved as SVG, rasterised by headless Chromium.

    python docs/make_tui_screenshot.py   (needs `chromium`: apt-get install chromium)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tui.fake_engine import NOW, FakeEngine  # noqa: E402

from trails.ui.tui.app import TrailsApp  # noqa: E402


async def svg(path: Path) -> None:
    app = TrailsApp(FakeEngine(), clock=lambda: NOW, feed=None)
    async with app.run_test(size=(132, 34)) as pilot:
        while not (app.loaded.is_set() and len(app.stats) == 6):
            await pilot.pause(0.05)
        await pilot.press("down", "down", "down", "space", "down", "space", "2")
        while app.tab_loaded != (app.selected, "diff"):
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        app.save_screenshot(path.name, str(path.parent))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "tui.svg"
        asyncio.run(svg(image))
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        f"--screenshot={ROOT / 'docs' / 'tui.png'}", "--window-size=1200,700", image.as_uri()],
                       check=True, capture_output=True, timeout=120)
    print(ROOT / "docs" / "tui.png")


if __name__ == "__main__":
    main()
