"""rclip's index of a folder, written through rclip's own database code from vectors ClipDesk
made with the same model: the cheap way to give rclip a 10,000-photo library to query.

    python _peer_rclip_seed.py DB VECTORS.npy NAMES.json   (rclip's venv; cwd = the folder)

Each row holds what rclip's indexing would store (``rclip.main``): the absolute path under the
working folder, the file's ``st_mtime`` and size, rclip's own file hash and the L2-normalised
vector, so that rclip's default run (which checks the folder for changes) finds every photo up
to date and embeds nothing. Imports nothing from ClipDesk: it runs under rclip's Python.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from rclip import db as rclip_db
from rclip.utils import helpers


def seed(db_path: str, vectors_path: str, names_path: str) -> int:
    with open(names_path, encoding="utf-8") as f:
        names = json.load(f)
    vectors = np.load(vectors_path).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cwd = os.getcwd()
    database = rclip_db.DB(db_path)
    try:
        for name, vector in zip(names, vectors, strict=True):
            path = os.path.join(cwd, name)  # = the DirEntry.path rclip's walk yields
            st = os.stat(path)
            image = rclip_db.NewImage(
                filepath=path,
                modified_at=st.st_mtime,
                size=st.st_size,
                vector=vector.tobytes(),
                hash=helpers.compute_file_hash(path),
            )
            database.upsert_image(image, commit=False)
        database.commit()
    finally:
        database.close()
    return len(names)


if __name__ == "__main__":
    print(seed(*sys.argv[1:4]))
