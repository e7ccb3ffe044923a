"""Thumbnails: made off the GUI thread, cached on disk, a placeholder until ready, high-DPI sized."""

from __future__ import annotations

import pytest
from PIL import Image

from clipdesk.ui.thumbnails import THUMB_PX, ThumbnailCache, thumb_dir

pytestmark = pytest.mark.usefixtures("no_leaks")


def _photo(tmp_path, name="a.jpg", size=(1200, 800), colour=(200, 30, 30)):
    path = tmp_path / name
    Image.new("RGB", size, colour).save(path, quality=90)
    return str(path)


def test_thumbnail_made_in_background_and_cached_on_disk(qtbot, workers, tmp_path):
    cache = ThumbnailCache(workers)
    path = _photo(tmp_path)
    assert cache.get(1, path) is None  # placeholder first
    with qtbot.waitSignal(cache.ready, timeout=10_000) as ready:
        pass
    assert ready.args == [1]
    pixmap = cache.get(1, path)
    # in memory: the cell's size in device pixels; on disk: 2x that, for high-DPI screens
    logical = pixmap.deviceIndependentSize()
    assert max(logical.width(), logical.height()) == 128
    assert max(pixmap.width(), pixmap.height()) == round(128 * pixmap.devicePixelRatio())
    on_disk = list(thumb_dir().rglob("*.jpg"))
    assert len(on_disk) == 1
    from PIL import Image as PILImage

    assert max(PILImage.open(on_disk[0]).size) == THUMB_PX
    # a new cache (next start) reads the disk copy
    again = ThumbnailCache(workers)
    assert again.get(1, path) is None
    qtbot.waitSignal(again.ready, timeout=10_000).wait()
    assert len(list(thumb_dir().rglob("*.jpg"))) == 1


def test_edited_photo_gets_a_new_thumbnail(qtbot, workers, tmp_path):
    import os

    cache = ThumbnailCache(workers)
    path = _photo(tmp_path)
    cache.get(1, path)
    qtbot.waitSignal(cache.ready, timeout=10_000).wait()
    _photo(tmp_path, size=(640, 640), colour=(0, 0, 255))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    cache.invalidate(1)
    cache.get(1, path)
    qtbot.waitSignal(cache.ready, timeout=10_000).wait()
    image = cache.get(1, path).toImage()
    assert image.width() == image.height()
    assert image.pixelColor(10, 10).blue() > 200


def test_broken_file_reports_reason_not_crash(qtbot, workers, tmp_path):
    cache = ThumbnailCache(workers)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    with qtbot.waitSignal(cache.failed, timeout=10_000) as failed:
        cache.get(9, str(bad))
    assert failed.args[0] == 9
    assert cache.error(9)
    assert cache.get(9, str(bad)) is None  # not retried in a loop


def test_prune_keeps_the_disk_cache_within_its_limit(qtbot, workers, tmp_path):
    import os

    from clipdesk.ui import thumbnails

    cache = ThumbnailCache(workers)
    for i in range(4):
        cache.get(i, _photo(tmp_path, f"p{i}.jpg", colour=(60 * i, 0, 0)))
    qtbot.waitUntil(lambda: len(list(thumb_dir().rglob("*.jpg"))) == 4, timeout=20_000)
    files = sorted(thumb_dir().rglob("*.jpg"))
    for age, f in enumerate(files):  # make the order of creation explicit
        os.utime(f, (1_000_000 + age, 1_000_000 + age))
    newest = files[-1]
    limit = newest.stat().st_size + files[-2].stat().st_size
    assert thumbnails.prune(limit) == 2
    assert sorted(thumb_dir().rglob("*.jpg")) == sorted(files[-2:]) and newest.exists()


def test_a_bigger_cell_gets_a_bigger_thumbnail_and_the_smaller_one_meanwhile(
    qtbot, workers, tmp_path
):
    from PIL import Image as PILImage

    from clipdesk.ui.thumbnails import disk_size

    cache = ThumbnailCache(workers)
    path = _photo(tmp_path)
    cache.get(1, path)
    qtbot.waitSignal(cache.ready, timeout=10_000).wait()
    small = cache.get(1, path)
    # the grid's cells grow: the small one is painted (scaled) until the big one is made
    assert cache.get(1, path, 320) is small
    qtbot.waitUntil(lambda: cache.get(1, path, 320) is not small, timeout=10_000)
    big = cache.get(1, path, 320)
    assert max(big.deviceIndependentSize().width(), big.deviceIndependentSize().height()) == 320
    assert cache.get(1, path) is small  # both sizes kept: another grid may show the small one
    # on disk: one JPEG per size that covers the cell's device pixels
    sizes = sorted(max(PILImage.open(f).size) for f in thumb_dir().rglob("*.jpg"))
    assert sizes == [THUMB_PX, disk_size(round(320 * big.devicePixelRatio()))]
    assert disk_size(640) == 768 and disk_size(2000) == 768 and disk_size(100) == THUMB_PX


def test_memory_is_bounded_in_bytes_so_bigger_cells_keep_fewer(qtbot, workers, tmp_path):
    one = 128 * 86 * 4  # a 1200 x 800 photo in a 128-px cell, 32 bits a pixel
    cache = ThumbnailCache(workers, memory_bytes=round(2.5 * one))  # room for two
    paths = [_photo(tmp_path, f"p{i}.jpg", colour=(0, 90 * i, 0)) for i in range(3)]
    for i, path in enumerate(paths):
        with qtbot.waitSignal(cache.ready, timeout=10_000):
            cache.get(i, path)
    assert cache.get(2, paths[2]) is not None and cache.get(1, paths[1]) is not None
    assert cache.get(0, paths[0]) is None  # the least recently painted one went
    qtbot.waitUntil(lambda: workers.pending == 0, timeout=10_000)
