"""The content fingerprint: what it notices, and the documented blind spot."""

from __future__ import annotations

import os

from clipdesk.scanning.hashing import CHUNK, content_hash


def write(path, data: bytes):
    path.write_bytes(data)
    return content_hash(path)


def test_same_content_same_hash_any_name(tmp_path):
    data = os.urandom(500_000)
    assert write(tmp_path / "a.jpg", data).digest == write(tmp_path / "b.jpg", data).digest


def test_head_tail_and_size_changes_are_noticed(tmp_path):
    data = bytearray(os.urandom(500_000))
    base = write(tmp_path / "a", bytes(data)).digest
    for change in (0, len(data) - 1):
        edited = bytearray(data)
        edited[change] ^= 0xFF
        assert write(tmp_path / "a", bytes(edited)).digest != base
    assert write(tmp_path / "a", bytes(data) + b"\x00").digest != base


def test_small_files_are_hashed_whole(tmp_path):
    data = bytearray(os.urandom(2 * CHUNK))
    base = write(tmp_path / "s", bytes(data)).digest
    data[CHUNK + 10] ^= 1
    assert write(tmp_path / "s", bytes(data)).digest != base


def test_the_middle_of_a_large_file_is_not_read(tmp_path):
    """The trade-off in the module docstring: a same-size edit in the middle goes unnoticed by
    the hash (changes are detected by (size, mtime); the hash only recognises moves)."""
    data = bytearray(os.urandom(1_000_000))
    base = write(tmp_path / "l", bytes(data))
    data[500_000] ^= 1
    again = write(tmp_path / "l", bytes(data))
    assert again.digest == base.digest and again.size == base.size
    assert again.head == bytes(data[:64])
