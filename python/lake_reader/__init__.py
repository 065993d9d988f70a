"""Read an exact lake dataset version with pyarrow, no `lake` needed (package ``lake-reader``).

A version's manifest (``<root>/_lake/manifests/<zone>/<name>/v000012.json``) lists its Parquet
files with their sizes, sha256 and row groups; its own sha256 is the version's digest, which a
``lake.lock`` entry records. This module checks both and reads the files, optionally one shard:
the units of work are row ranges of each file's row groups in manifest order, each row group cut
into ranges of ``max(1, rows // 64)`` rows (``rows`` being the version's), and shard ``rank`` of
``world`` takes unit ``k`` when ``k % world == rank`` -- the same rule as the Rust scan.

    import lake_reader as lr
    m = lr.Manifest.from_lock("lake.lock", "gold.features", root="lake-data")
    table = m.read(columns=["customer_id", "orders"], shard=(0, 2))
    epoch3 = m.read(shard=(0, 2), shuffle=(42, 3, 10_000))   # the Rust scan's exact order
    for batch in m.iter_batches(shard=(0, 2), batch_size=1024): ...

``root`` is a local folder or an ``s3://bucket/prefix`` URL, read with
``pyarrow.fs.S3FileSystem`` and the ``AWS_*`` variables ``lake`` reads (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``); an ``az://container/prefix``
URL, read with ``pyarrow.fs.AzureFileSystem`` and the ``AZURE_*`` variables; or a
``gs://bucket/prefix`` URL, read with ``pyarrow.fs.GcsFileSystem``. Any other pyarrow
filesystem can be passed as ``filesystem`` with ``root`` a path in it.

Files written before a column was added lack it, and a widened column (int64 to float64) keeps
its old type in old files: ``read`` returns every row in the version's own schema, with nulls
for the missing columns and old values cast. DuckDB and Polars read the same verified files by
column name:

    duckdb.sql(f"SELECT * FROM read_parquet({m.paths()!r}, union_by_name = true)")
    polars.scan_parquet(m.paths(), schema=m.polars_schema(), missing_columns="insert")
"""

import hashlib
import json
import os
import tomllib
from pathlib import Path

__all__ = ["Manifest", "IntegrityError", "MIN_UNITS", "pins"]
__version__ = "0.1.0"


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


# The key every Azurite emulator uses for its one account.
_AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _azure():
    """``pyarrow.fs.AzureFileSystem`` from the ``AZURE_*`` variables ``lake`` reads: the account
    and its key or SAS token, or the emulator (``AZURE_STORAGE_USE_EMULATOR``,
    ``AZURITE_BLOB_STORAGE_URL``)."""
    from pyarrow import fs
    from urllib.parse import urlparse

    env = os.environ.get
    if (env("AZURE_STORAGE_USE_EMULATOR") or "").lower() == "true":
        url = urlparse(env("AZURITE_BLOB_STORAGE_URL") or "http://127.0.0.1:10000")
        return fs.AzureFileSystem(
            "devstoreaccount1",
            account_key=_AZURITE_KEY,
            blob_storage_authority=url.netloc,
            blob_storage_scheme=url.scheme,
            dfs_storage_authority=url.netloc,
            dfs_storage_scheme=url.scheme,
        )
    account = env("AZURE_STORAGE_ACCOUNT_NAME") or env("AZURE_STORAGE_ACCOUNT")
    if not account:
        raise ValueError("az:// roots need AZURE_STORAGE_ACCOUNT_NAME (as lake does)")
    return fs.AzureFileSystem(
        account,
        account_key=env("AZURE_STORAGE_ACCOUNT_KEY") or env("AZURE_STORAGE_ACCESS_KEY"),
        sas_token=env("AZURE_STORAGE_SAS_KEY") or env("AZURE_STORAGE_SAS_TOKEN"),
    )


def _gcs():
    """``pyarrow.fs.GcsFileSystem``: the machine's Google credentials, or, when the key file in
    ``GOOGLE_SERVICE_ACCOUNT`` names a ``gcs_base_url`` with ``disable_oauth`` (as ``lake``
    reads it for an emulator), that server without credentials."""
    from pyarrow import fs
    from urllib.parse import urlparse

    key = os.environ.get("GOOGLE_SERVICE_ACCOUNT")
    if key and os.path.exists(key):
        with open(key) as f:
            account = json.load(f)
        if account.get("disable_oauth") and account.get("gcs_base_url"):
            url = urlparse(account["gcs_base_url"])
            return fs.GcsFileSystem(anonymous=True, endpoint_override=url.netloc, scheme=url.scheme)
    return fs.GcsFileSystem()


def _filesystem(root, filesystem=None):
    """(pyarrow filesystem, root path in it, URI prefix) for a folder or an ``s3://``, ``az://``
    or ``gs://`` URL."""
    from pyarrow import fs

    root = str(root)
    if filesystem is not None:
        return filesystem, root.rstrip("/"), None
    if root.startswith("s3://"):
        options = {}
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            scheme, sep, host = endpoint.partition("://")
            options["endpoint_override"] = host.rstrip("/") if sep else scheme
            options["scheme"] = scheme if sep else "https"
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            options["region"] = region
        if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
            options["access_key"] = os.environ["AWS_ACCESS_KEY_ID"]
            options["secret_key"] = os.environ["AWS_SECRET_ACCESS_KEY"]
            options["session_token"] = os.environ.get("AWS_SESSION_TOKEN")
        return fs.S3FileSystem(**options), root[len("s3://"):].rstrip("/"), "s3://"
    if root.startswith("az://"):
        return _azure(), root[len("az://"):].rstrip("/"), "az://"
    if root.startswith("gs://"):
        return _gcs(), root[len("gs://"):].rstrip("/"), "gs://"
    return fs.LocalFileSystem(), str(Path(root).resolve()), None


def _read_bytes(filesystem, path):
    from pyarrow import fs

    if filesystem.get_file_info(path).type == fs.FileType.NotFound:
        raise IntegrityError(f"{path}: missing")
    with filesystem.open_input_stream(path) as f:
        return f.read()


def pins(lock_path):
    """The ``[[pin]]`` entries of a ``lake.lock`` as dicts (dataset, version, ref, digest, ...)."""
    return tomllib.loads(Path(lock_path).read_text()).get("pin", [])


def _check(path, f, sha256, size):
    """A file whose bytes hash to ``sha256`` (``size`` bytes) is the manifest's entry ``f``."""
    if sha256 != f["sha256"] or size != f["size"]:
        raise IntegrityError(
            f"{path}: sha256 {sha256} ({size} bytes), the manifest says {f['sha256']} ({f['size']} bytes)"
        )


class Manifest:
    """One version's manifest, checked against ``digest`` when given (a lock's pin)."""

    def __init__(self, path, root=None, digest=None, filesystem=None):
        if root is None:
            # A local <root>/_lake/manifests/<zone>/<name>/vNNNNNN.json
            root = Path(path).resolve().parents[4]
            path = Path(path).resolve().relative_to(root)
        self.filesystem, self.root, self._uri = _filesystem(root, filesystem)
        self.path = f"{self.root}/{path}"
        raw = _read_bytes(self.filesystem, self.path)
        actual = hashlib.sha256(raw).hexdigest()
        if digest is not None and actual != digest:
            raise IntegrityError(f"{self.path}: sha256 {actual}, pinned {digest}")
        self.digest = actual
        self.data = json.loads(raw)

    @classmethod
    def from_lock(cls, lock_path, dataset, root, filesystem=None):
        """The version of ``dataset`` the lock pins, under ``root`` (a folder or ``s3://`` URL)."""
        for pin in pins(lock_path):
            if pin["dataset"] == dataset:
                return cls(pin["manifest"], root=root, digest=pin["digest"], filesystem=filesystem)
        raise KeyError(f"{dataset} is not pinned in {lock_path}")

    @property
    def files(self):
        return self.data["files"]

    @property
    def rows(self):
        return sum(sum(f["row_groups"]) for f in self.files)

    def units(self):
        """(file index, row group index, first row, rows) in manifest order."""
        size = max(1, self.rows // MIN_UNITS)
        out = []
        for i, f in enumerate(self.files):
            for g, rows in enumerate(f["row_groups"]):
                for offset in range(0, rows, size):
                    out.append((i, g, offset, min(size, rows - offset)))
        return out

    def shard_units(self, rank, world):
        return [u for k, u in enumerate(self.units()) if k % world == rank]

    def _file_path(self, f):
        return f"{self.root}/{f['path']}"

    def paths(self):
        """The version's files as paths (local) or ``s3://`` URLs, for DuckDB and Polars."""
        return [(self._uri or "") + self._file_path(f) for f in self.files]

    def verify(self):
        for i in range(len(self.files)):
            self._verified_bytes(i)

    def _verified_bytes(self, i):
        """File ``i`` read once into memory and checked there, so the rows decoded are exactly
        the bytes that were hashed (one pass over storage, not a hash pass and a read pass)."""
        f = self.files[i]
        p = self._file_path(f)
        raw = _read_bytes(self.filesystem, p)
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
            for field in pq.read_schema(self._file_path(f), filesystem=self.filesystem):
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

        batches = list(self.iter_batches(columns, shard, verify, shuffle, batch_size))
        return pa.Table.from_batches(batches, schema=self._target(columns))

    def _target(self, columns):
        import pyarrow as pa

        target = self.schema()
        if columns:
            missing = [c for c in columns if c not in target.names]
            if missing:
                raise KeyError(f"no column {missing[0]!r} in {self.path}")
            target = pa.schema([f for f in target if f.name in columns])
        return target

    def iter_batches(self, columns=None, shard=None, verify=True, shuffle=None, batch_size=8192):
        """:meth:`read` as a stream of pyarrow RecordBatches of at most ``batch_size`` rows. In
        manifest order one file's verified bytes are held at a time; a shuffle holds the files it
        has read (it returns to them) and its buffer's rows."""
        target = self._target(columns)
        units = self.units() if shard is None else self.shard_units(*shard)
        seed, epoch, buffer_rows = shuffle if shuffle is not None else (0, 0, 0)
        if shuffle is not None:
            _SplitMix64(seed, epoch).shuffle(units)
        parts = self._unit_tables(units, target, verify)
        if shuffle is not None and buffer_rows > 0:
            parts = _buffered_shuffle(parts, _SplitMix64(seed ^ 0x5555, epoch), buffer_rows, batch_size)
        for table in parts:
            yield from table.to_batches(max_chunksize=max(1, batch_size))

    def _unit_tables(self, units, target, verify):
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Each file is opened (and verified) once. In manifest order a file is done once the
        # next begins, so only the current one is held; a shuffle comes back to files it left.
        keep_all = any(a[0] > b[0] for a, b in zip(units, units[1:]))
        files, groups = {}, {}
        for i, g, offset, rows in units:
            if i not in files:
                if not keep_all:
                    files.clear()
                if verify:
                    source = pa.BufferReader(self._verified_bytes(i))
                else:
                    source = self.filesystem.open_input_file(self._file_path(self.files[i]))
                files[i] = pq.ParquetFile(source)
            if (i, g) not in groups:
                # Units of one row group come in a row: read it once for them all.
                groups.clear()
                have = set(files[i].schema_arrow.names)
                cols = [c for c in target.names if c in have]
                groups[(i, g)] = files[i].read_row_group(g, columns=cols)
            yield _conform(groups[(i, g)].slice(offset, rows), target)

    def to_torch(self, columns=None, shard=None, shuffle=None, batch_size=8192, verify=True):
        """A ``torch.utils.data.IterableDataset`` of batches, each a dict of column name to
        tensor (strings and other non-numeric columns stay Python lists). torch is imported
        here, not when this module is."""
        try:
            import torch
        except ImportError as e:
            raise ImportError("to_torch needs torch: pip install 'lake-reader[torch]'") from e

        manifest = self

        class _Batches(torch.utils.data.IterableDataset):
            def __iter__(self):
                for batch in manifest.iter_batches(columns, shard, verify, shuffle, batch_size):
                    yield {name: _tensor(torch, col) for name, col in zip(batch.schema.names, batch.columns)}

        return _Batches()


def _tensor(torch, column):
    import pyarrow as pa

    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_boolean(column.type):
        if column.null_count == 0:
            return torch.from_numpy(column.to_numpy(zero_copy_only=False))
    return column.to_pylist()


def _buffered_shuffle(units, rng, buffer_rows, batch_size):
    """Rows as the Rust scan emits them: each unit read in batches of ``batch_size``, gathered
    until at least ``buffer_rows``, then the gathered rows permuted (Fisher-Yates) and emitted."""
    import pyarrow as pa

    buffer, buffered = [], 0

    def flush():
        rows = pa.concat_tables(buffer)
        order = list(range(rows.num_rows))
        rng.shuffle(order)
        buffer.clear()
        return rows.take(order)

    for table in units:
        for start in range(0, table.num_rows, max(1, batch_size)):
            batch = table.slice(start, batch_size)
            buffer.append(batch)
            buffered += batch.num_rows
            if buffered >= buffer_rows:
                yield flush()
                buffered = 0
    if buffer:
        yield flush()


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
