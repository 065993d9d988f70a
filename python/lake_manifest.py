"""Read an exact lake dataset version with pyarrow, no `lake` needed.

A version's manifest (``<root>/_lake/manifests/<zone>/<name>/v000012.json``) lists its Parquet
files with their sizes, sha256 and row groups; its own sha256 is the version's digest, which a
``lake.lock`` entry records. This module checks both and reads the files, optionally one shard:
the units of work are (file, row group) pairs in manifest order, and shard ``rank`` of
``world`` takes unit ``k`` when ``k % world == rank`` -- the same rule as the Rust scan.

    import lake_manifest as lm
    m = lm.Manifest.from_lock("lake.lock", "gold.features", root="lake-data")
    table = m.read(columns=["customer_id", "orders"], shard=(0, 2))

DuckDB and Polars can read the same verified files:

    duckdb.sql(f"SELECT * FROM read_parquet({m.paths()!r})")
    polars.read_parquet(m.paths())
"""

import hashlib
import json
import tomllib
from pathlib import Path


class IntegrityError(Exception):
    """A manifest or file does not hash to what was pinned."""


def _sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class Manifest:
    def __init__(self, path, root=None, digest=None):
        self.path = Path(path)
        raw = self.path.read_bytes()
        actual = hashlib.sha256(raw).hexdigest()
        if digest is not None and actual != digest:
            raise IntegrityError(f"{self.path}: sha256 {actual}, pinned {digest}")
        self.digest = actual
        self.data = json.loads(raw)
        # <root>/_lake/manifests/<zone>/<name>/vNNNNNN.json
        self.root = Path(root) if root is not None else self.path.parents[4]

    @classmethod
    def from_lock(cls, lock_path, dataset, root):
        lock = tomllib.loads(Path(lock_path).read_text())
        for pin in lock.get("pin", []):
            if pin["dataset"] == dataset:
                return cls(Path(root) / pin["manifest"], root=root, digest=pin["digest"])
        raise KeyError(f"{dataset} is not pinned in {lock_path}")

    @property
    def files(self):
        return self.data["files"]

    def units(self):
        """(file index, row group index) in manifest order."""
        return [(i, g) for i, f in enumerate(self.files) for g in range(len(f["row_groups"]))]

    def shard_units(self, rank, world):
        return [u for k, u in enumerate(self.units()) if k % world == rank]

    def paths(self):
        return [str(self.root / f["path"]) for f in self.files]

    def verify(self):
        for f in self.files:
            p = self.root / f["path"]
            if not p.exists():
                raise IntegrityError(f"{p}: missing")
            actual = _sha256(p)
            if actual != f["sha256"] or p.stat().st_size != f["size"]:
                raise IntegrityError(f"{p}: sha256 {actual}, the manifest says {f['sha256']}")

    def read(self, columns=None, shard=None, verify=True):
        """The version (or one shard of it) as a pyarrow Table, in unit order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if verify:
            self.verify()
        units = self.units() if shard is None else self.shard_units(*shard)
        files = {}
        tables = []
        for i, g in units:
            if i not in files:
                files[i] = pq.ParquetFile(self.root / self.files[i]["path"])
            tables.append(files[i].read_row_group(g, columns=columns))
        if not tables:
            schema = pq.ParquetFile(self.paths()[0]).schema_arrow if self.files else pa.schema([])
            if columns:
                schema = pa.schema([schema.field(c) for c in columns])
            return schema.empty_table()
        return pa.concat_tables(tables)
