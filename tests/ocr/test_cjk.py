"""Chinese and Japanese text in a photo: read by the reader (PP-OCRv6 recognises both) and found
in the library's text index by its two-character words, although the reader writes the words
of a line without spaces between them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library

# Debian's fonts-wqy-microhei (.ci/run installs it): a small font with CJK glyphs
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
LINES = ("东京车站 出口", "東京タワー 入場券", "咖啡 面包店")

pytestmark = pytest.mark.skipif(
    not CJK_FONT.exists(), reason="no CJK font (apt-get install fonts-wqy-microhei)"
)


def _card() -> Image.Image:
    font = ImageFont.truetype(str(CJK_FONT), 64)
    image = Image.new("RGB", (1400, 500), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(LINES):
        draw.text((60, 60 + 140 * i), line, font=font, fill=(20, 20, 20))
    return image


def test_chinese_and_japanese_text_is_read_and_found_by_two_character_words(reader, tmp_path):
    result = reader.read_image(_card())
    read = [line.text.replace(" ", "") for line in result.lines]
    assert read == [line.replace(" ", "") for line in LINES]
    with Library(tmp_path / "lib.sqlite3") as lib:
        folder = lib.add_folder(tmp_path / "Photos")
        facts = FileFacts(tmp_path / "Photos" / "sign.png", 10, 1, "png", "0" * 32)
        ((pid, _),) = lib.add_or_update_photos(folder.id, [facts])
        with lib.transaction():
            lib.save_ocr(pid, result.text, result.confidence, (), result.engine)
        for word in ("车站", "出口", "東京", "タワー", "入場券", "咖啡", "面包"):
            assert lib.match_words([word]).ids.tolist() == [pid], word
        assert lib.match_words(["京都"]).ids.tolist() == []  # 京 and 都 alone are no match
