"""Photo metadata from headers and EXIF, and that bad EXIF never breaks a scan."""

from __future__ import annotations

from PIL import Image, TiffImagePlugin

from clipdesk.library.records import PhotoMeta
from clipdesk.scanning.metadata import parse_exif_datetime, parse_gps, read_metadata

R = TiffImagePlugin.IFDRational


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon\x00\x00"
    exif[0x0110] = "EOS R5 "
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2021:07:14 18:03:22"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "S", (R(33, 1), R(51, 1), R(3546, 100))
    gps[3], gps[4] = "E", (R(151, 1), R(12, 1), R(30, 1))
    return exif


def test_camera_jpeg(tmp_path):
    path = tmp_path / "c.jpg"
    Image.new("RGB", (60, 40)).save(path, exif=camera_exif().tobytes())
    meta = read_metadata(path, "jpeg")
    assert meta == PhotoMeta(
        width=60,
        height=40,
        taken_at="2021-07-14T18:03:22",
        camera_make="Canon",
        camera_model="EOS R5",
        gps_lat=-33.85985,
        gps_lon=151.2083333,
    )


def test_size_is_reported_after_orientation(tmp_path):
    path = tmp_path / "portrait.jpg"
    Image.new("RGB", (60, 40)).save(path, exif=camera_exif(orientation=6).tobytes())
    meta = read_metadata(path, "jpeg")
    assert (meta.width, meta.height) == (40, 60)


def test_heif_metadata(tmp_path):
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / "phone.heic"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(path, exif=camera_exif().tobytes())
    meta = read_metadata(path, "heif")
    assert (meta.width, meta.height) == (64, 48)
    assert meta.camera_model == "EOS R5" and meta.taken_at == "2021-07-14T18:03:22"


def test_broken_exif_fields_are_unknown_not_fatal(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 99  # nonsense orientation
    exif[0x010F] = b"\x00\x00\x00"
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[4] = "N", (R(1, 0), 0, 0), (1.0, 2.0, 3.0)  # division by zero
    path = tmp_path / "broken.jpg"
    Image.new("RGB", (30, 20)).save(path, exif=exif.tobytes())
    assert read_metadata(path, "jpeg") == PhotoMeta(width=30, height=20)


def test_unreadable_files_give_empty_metadata(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff" + b"\x00" * 50)
    text = tmp_path / "text.png"
    text.write_text("not a picture")
    assert read_metadata(junk, "jpeg") == PhotoMeta()
    assert read_metadata(text, "png") == PhotoMeta()
    assert read_metadata(tmp_path / "absent.jpg") == PhotoMeta()
    assert read_metadata(text, "raw") == PhotoMeta()  # rawpy refuses it; still no exception


def test_truncated_jpeg_still_gives_its_header(tmp_path):
    path = tmp_path / "t.jpg"
    Image.effect_noise((640, 320), 60).convert("RGB").save(path, exif=camera_exif().tobytes())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    meta = read_metadata(path, "jpeg")
    assert (meta.width, meta.height, meta.camera_make) == (640, 320, "Canon")


def test_parsers():
    assert parse_exif_datetime("2020:01:02 03:04:05", "+02:00") == "2020-01-02T03:04:05+02:00"
    assert parse_exif_datetime(b"2020:01:02 03:04:05\x00") == "2020-01-02T03:04:05"
    assert parse_exif_datetime("    :  :     :  :  ") is None
    assert parse_gps({1: "N", 2: (10.0, 30.0, 0.0), 3: "W", 4: (5.0, 0.0, 0.0)}) == (10.5, -5.0)
    assert parse_gps({2: (0.0, 0.0, 0.0), 4: (0.0, 0.0, 0.0)}) is None  # no-fix placeholder
    assert parse_gps({2: (95.0, 0.0, 0.0), 4: (1.0, 0.0, 0.0)}) is None  # out of range
    assert parse_gps({}) is None
