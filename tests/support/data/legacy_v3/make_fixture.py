"""How library.sqlite3 beside this file was made: by ClipDesk as it was before the redesign
(commit 961755f, `clipdesk.core`), run from a checkout of that commit. Kept for the record; it
cannot run against today's package layout, which is the point of the fixture.

    git worktree add /tmp/old 961755f && cd /tmp/old && python tests/.../make_fixture.py OUT
"""

import sys
import time
from pathlib import Path

import numpy as np
from clipdesk.core.categories import Category, Label
from clipdesk.core.scanner import Scanner
from clipdesk.core.store import SEARCH_MODEL_KEY, Library
from clipdesk.core.tag_store import TagState, TagStore

from clipdesk.model import synth

out = Path(sys.argv[1])
photos = Path("/tmp/clipdesk-legacy-fixture/photos")
synth.write_photo_folder(photos, 12, seed=5, size=(64, 48), formats=("jpg", "png"))
with Library(out) as lib:
    Scanner(lib).add_folder(photos)
    ids = [p.id for p in lib.photos()]
    vectors = np.random.default_rng(0).standard_normal((len(ids), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lib.store_embeddings("legacy-model@0123456789ab", ids, vectors)
    lib.set_setting(SEARCH_MODEL_KEY, {"id": "legacy-model@0123456789ab", "source": "legacy"})
    tags = TagStore(lib)  # installs the starter categories, as the app did
    tags.add_category(Category("Shape", (Label("circle"), Label("star"))))
    tags.set_decision(ids[:4], "Shape", "circle", TagState.CONFIRMED)
    tags.set_decision(ids[4:6], "Shape", "star", TagState.REJECTED)
    label = tags.label_ids("Shape")["star"]
    with lib.transaction() as conn:
        conn.executemany(
            "INSERT INTO photo_tags(photo_id, label_id, state, score, model_id, updated_at)"
            " VALUES(?,?,?,?,?,?)",
            [
                (i, label, "suggested", 0.7, "legacy-model@0123456789ab", time.time())
                for i in ids[6:9]
            ],
        )
    lib.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
