#!/usr/bin/env python3
"""Registers N uploaded files in one folder of a tenant directly in the SQLite catalog (with the
server stopped), all pointing at one existing blob: a fast way to build a 100,000-file folder.

usage: seed_files.py CATALOG_DB CLIENT_ID FOLDER N
"""
import sqlite3
import sys
import time
import uuid

db, client, folder, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = sqlite3.connect(db)
blob, size = con.execute("SELECT hash, size FROM blobs LIMIT 1").fetchone()
now = int(time.time() * 1000)
con.execute(
    "INSERT OR IGNORE INTO folders (tenant_id, path, parent, created_at) VALUES (?, ?, '', ?)",
    (client, folder, now),
)
rows = (
    (uuid.uuid4().hex, client, folder, f"file{i:07d}.png", "image/png", "image", size, now + i, now + i, now + i, blob)
    for i in range(n)
)
con.executemany(
    """INSERT INTO files (id, tenant_id, folder, name, content_type, media_type, size, status, temporary,
                          created_at, updated_at, uploaded_at, blob_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'uploaded', 0, ?, ?, ?, ?)""",
    rows,
)
con.execute("UPDATE blobs SET refcount = refcount + ? WHERE hash = ?", (n, blob))
con.execute(
    "UPDATE tenants SET used_bytes = (SELECT SUM(size) FROM files WHERE tenant_id = ?1 AND temporary = 0) WHERE id = ?1",
    (client,),
)
con.commit()
print(f"registered {n} files in {client}/{folder}")
