"""Read an exact lake dataset version with pyarrow, no `lake` needed.

A version's manifest (``<root>/_lake/manifests/<zone>/<name>/v000012.json``) lists its Parquet
files with their sizes, sha256 and row groups; its own sha256 is the version's digest, which a
``lake.lock`` entry records. This module checks both and reads the files, optionally one shard:
the units of work are row ranges of each file's row groups in manifest order, each row group cut
into ranges of ``max(1, rows // 64)`` rows (``rows`` being the version's), and shard ``rank`` of
``world`` takes unit ``k`` when ``k % world == rank`` -- the same rule as the Rust scan.

    import lake_manifest as lm
    m = lm.Manifest.from_lock("lake.lock", "gold.features", root="lake-data")
    table = m.read(columns=["customer_id", "orders"], shard=(0, 2))
    epoch3 = m.read(shard=(0, 2), shuffle=(42, 3, 10_000))   # the Rust scan's exact order

Files written before a column was added lack it, and a widened column (int64 to float64) keeps
its old type in old files: ``read`` returns every row in the version's own schema, with nulls
for the missing columns and old values cast. DuckDB and Polars read the same verified files by
column name:

    duckdb.sql(f"SELECT * FROM read_parquet({m.paths()!r}, union_by_name = true)")
    polars.scan_parquet(m.paths(), schema=m.polars_schema(), missing_columns="insert")
"""

import hashlib
import json
import tomllib
from pathlib import Path


_M64 = (1 << 64) - 1


class _SplitMix64:
    """The generator of the Rust scan (``src/scan.rs``), bit for bit."""

    def __init__(self, seed, epoch):
        self.state = (seed ^ ((epoch * 0x9E3779B97F4A7C15) & _M64) ^ 0xD1B54A32D192ED03) & _M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & _M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)

    def shuffle(self, items):
        """Fisher-Yates, from the last item down."""
        for i in range(len(items) - 1, 0, -1):
            j = self.next() % (i + 1)
            items[i], items[j] = items[j], items[i]


# Units per version at the least (when it has that many rows), as in the Rust scan.
MIN_UNITS = 64


class IntegrityError(Exception):
    """A manifest or file does not hash to what was pinned."""


def _sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _check(path, f, sha256, size):
    """A file whose bytes hash to ``sha256`` (``size`` bytes) is the manifest's entry ``f``."""
    if sha256 != f["sha256"] or size != f["size"]:
        raise IntegrityError(
            f"{path}: sha256 {sha256} ({size} bytes), the manifest says {f['sha256']} ({f['size']} bytes)"
        )


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
        """(file index, row group index, first row, rows) in manifest order."""
        total = sum(sum(f["row_groups"]) for f in self.files)
        size = max(1, total // MIN_UNITS)
        out = []
        for i, f in enumerate(self.files):
            for g, rows in enumerate(f["row_groups"]):
                for offset in range(0, rows, size):
                    out.append((i, g, offset, min(size, rows - offset)))
        return out

    def shard_units(self, rank, world):
        return [u for k, u in enumerate(self.units()) if k % world == rank]

    def paths(self):
        return [str(self.root / f["path"]) for f in self.files]

    def verify(self):
        for f in self.files:
            p = self._existing(f)
            _check(p, f, _sha256(p), p.stat().st_size)

    def _existing(self, f):
        p = self.root / f["path"]
        if not p.exists():
            raise IntegrityError(f"{p}: missing")
        return p

    def _verified_bytes(self, i):
        """File ``i`` read once into memory and checked there, so the rows decoded are exactly
        the bytes that were hashed (one pass over storage, not a hash pass and a read pass)."""
        f = self.files[i]
        p = self._existing(f)
        raw = p.read_bytes()
        _check(p, f, hashlib.sha256(raw).hexdigest(), len(raw))
        return raw

    def schema(self):
        """The version's schema as pyarrow types, in the manifest's column order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Types lake names as pyarrow does are taken as named; any other from the newest file
        # holding the column (files are in path order, and write ids sort by time).
        newest = {}
        for f in self.files:
            for field in pq.read_schema(self.root / f["path"]):
                newest[field.name] = field.type
        fields = []
        for spec in self.data["schema"]["fields"]:
            try:
                t = pa.type_for_alias(spec["type"])
            except (ValueError, KeyError):
                t = newest.get(spec["name"], pa.null())
            fields.append(pa.field(spec["name"], t, nullable=True))
        return pa.schema(fields)

    def polars_schema(self):
        """The version's schema for Polars (which otherwise takes the first file's)."""
        import polars

        return polars.from_arrow(self.schema().empty_table()).schema

    def read(self, columns=None, shard=None, verify=True, shuffle=None, batch_size=8192):
        """The version (or one shard of it) as a pyarrow Table in the version's schema, in unit
        order; with ``shuffle=(seed, epoch, buffer_rows)``, in the order the Rust scan gives for
        the same seed, epoch, buffer and batch size."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        target = self.schema()
        if columns:
            missing = [c for c in columns if c not in target.names]
            if missing:
                raise KeyError(f"no column {missing[0]!r} in {self.path}")
            target = pa.schema([f for f in target if f.name in columns])
        units = self.units() if shard is None else self.shard_units(*shard)
        seed, epoch, buffer_rows = shuffle if shuffle is not None else (0, 0, 0)
        if shuffle is not None:
            _SplitMix64(seed, epoch).shuffle(units)
        files = {}
        tables = []
        groups = {}
        for i, g, offset, rows in units:
            if i not in files:
                source = self.root / self.files[i]["path"]
                if verify:
                    source = pa.BufferReader(self._verified_bytes(i))
                files[i] = pq.ParquetFile(source)
            if (i, g) not in groups:
                # Units of one row group come in a row: read it once for them all.
                groups.clear()
                have = set(files[i].schema_arrow.names)
                cols = [c for c in target.names if c in have]
                groups[(i, g)] = files[i].read_row_group(g, columns=cols)
            part = groups[(i, g)].slice(offset, rows)
            tables.append(_conform(part, target))
        if not tables:
            return target.empty_table()
        if shuffle is None or buffer_rows == 0:
            return pa.concat_tables(tables)
        return _buffered_shuffle(tables, _SplitMix64(seed ^ 0x5555, epoch), buffer_rows, batch_size)


def _buffered_shuffle(units, rng, buffer_rows, batch_size):
    """Rows as the Rust scan emits them: each unit read in batches of ``batch_size``, gathered
    until at least ``buffer_rows``, then the gathered rows permuted (Fisher-Yates) and emitted."""
    import pyarrow as pa

    out, buffer, buffered = [], [], 0

    def flush():
        if not buffer:
            return
        rows = pa.concat_tables(buffer)
        order = list(range(rows.num_rows))
        rng.shuffle(order)
        out.append(rows.take(order))
        buffer.clear()

    for table in units:
        for start in range(0, table.num_rows, max(1, batch_size)):
            batch = table.slice(start, batch_size)
            buffer.append(batch)
            buffered += batch.num_rows
            if buffered >= buffer_rows:
                flush()
                buffered = 0
    flush()
    return pa.concat_tables(out)


def _conform(table, target):
    """``table`` in ``target``'s shape: its columns in order, cast, and nulls for those it lacks."""
    import pyarrow as pa

    columns = []
    for field in target:
        if field.name in table.column_names:
            col = table.column(field.name)
            columns.append(col if col.type == field.type else col.cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(columns, schema=target)
