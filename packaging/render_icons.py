"""Render resources/icons/clipdesk.svg into the PNG sizes, .ico and .icns the platforms need.

Run after editing the SVG: ``python3 packaging/render_icons.py``. Uses Qt's SVG renderer (already a
dependency) for the PNGs and Pillow to pack the Windows .ico and macOS .icns; the outputs are
committed so that packaging needs neither.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
SOURCE = ICON_DIR / "clipdesk.svg"
# freedesktop hicolor sizes, Windows .ico sizes and macOS .icns sizes together.
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def png_path(size: int) -> Path:
    return ICON_DIR / f"clipdesk-{size}.png"


def render_pngs() -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - keeps Qt up
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"cannot parse {SOURCE}")
    written = []
    for size in PNG_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        if not image.save(str(png_path(size))):
            raise SystemExit(f"cannot write {png_path(size)}")
        written.append(png_path(size))
    return written


def pack_ico_and_icns() -> list[Path]:
    from PIL import Image

    biggest = Image.open(png_path(max(PNG_SIZES)))
    ico = ICON_DIR / "clipdesk.ico"
    # Pillow scales from one image; give it the largest and the list of sizes wanted.
    Image.open(png_path(256)).save(ico, sizes=[(s, s) for s in ICO_SIZES])
    icns = ICON_DIR / "clipdesk.icns"
    biggest.save(icns, append_images=[Image.open(png_path(s)) for s in ICNS_SIZES[:-1]])
    return [ico, icns]


def main() -> int:
    for path in render_pngs() + pack_ico_and_icns():
        print(f"wrote {path.relative_to(ICON_DIR.parents[1])} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
