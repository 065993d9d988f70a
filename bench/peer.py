#!/usr/bin/env python3
"""The peers bench/peers.sh times lake against, one job each: what a data engineer would script.

usage: peer.py JOB ARGS...   (each job imports only its own library)
Everyone writes zstd level 3, as the lake under test is configured to.
"""
import hashlib
import os
import sys


def duckdb_ingest(src, dst):
    import duckdb
    reader = "read_json" if src.endswith(".ndjson") else "read_csv"
    duckdb.sql(f"COPY (SELECT * FROM {reader}('{src}')) TO '{dst}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3)")


def polars_ingest(src, dst):
    import polars as pl
    lf = pl.scan_ndjson(src) if src.endswith(".ndjson") else pl.scan_csv(src, try_parse_dates=True)
    lf.sink_parquet(dst, compression="zstd", compression_level=3)


def pyarrow_ingest(src, dst):
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    import pyarrow.parquet as pq
    table = pjson.read_json(src) if src.endswith(".ndjson") else pcsv.read_csv(src)
    pq.write_table(table, dst, compression="zstd", compression_level=3)


def delta_ingest(src, dst):
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    from deltalake import WriterProperties, write_deltalake
    data = pjson.read_json(src) if src.endswith(".ndjson") else pcsv.open_csv(src)
    write_deltalake(dst, data, writer_properties=WriterProperties(compression="ZSTD", compression_level=3))


def sql_of(path):
    return open(path).read().strip().rstrip(";")


def duckdb_promote(sql, orders, customers, dst):
    import duckdb
    con = duckdb.connect()
    con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{orders}/*.parquet')")
    con.execute(f"CREATE VIEW customers AS SELECT * FROM read_parquet('{customers}')")
    con.execute(f"COPY ({sql_of(sql)}) TO '{dst}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3)")


def polars_promote(sql, orders, customers, dst):
    import polars as pl
    ctx = pl.SQLContext(orders=pl.scan_parquet(f"{orders}/*.parquet"), customers=pl.scan_parquet(customers))
    ctx.execute(sql_of(sql)).sink_parquet(dst, compression="zstd", compression_level=3)


def delta_promote(sql, orders, customers, dst):
    from deltalake import DeltaTable, QueryBuilder, WriterProperties, write_deltalake
    qb = QueryBuilder().register("orders", DeltaTable(orders)).register("customers", DeltaTable(customers))
    write_deltalake(dst, qb.execute(sql_of(sql)),
                    writer_properties=WriterProperties(compression="ZSTD", compression_level=3))


def pyarrow_read(folder):
    import pyarrow.parquet as pq
    print(pq.read_table(folder).num_rows)


def polars_read(folder):
    import polars as pl
    print(pl.read_parquet(f"{folder}/*.parquet").to_arrow().num_rows)


def duckdb_read(folder):
    import duckdb
    print(duckdb.sql(f"SELECT * FROM read_parquet('{folder}/*.parquet')").to_arrow_table().num_rows)


def lake_python_read(checkout, project, dataset):
    sys.path.insert(0, os.path.join(checkout, "python"))
    import lake_reader
    os.chdir(project)
    print(lake_reader.Manifest.from_lock("lake.lock", dataset, root="lake-data").read().num_rows)


def duckdb_csv(folder):
    import duckdb
    duckdb.sql(f"COPY (SELECT * FROM read_parquet('{folder}/*.parquet')) TO '/dev/null' (FORMAT csv)")


def polars_csv(folder):
    import polars as pl
    pl.scan_parquet(f"{folder}/*.parquet").sink_csv("/dev/null")


def hashlib_archive(src, dst):
    """Hash while copying, then read the copy back and compare: what a careful script does."""
    os.makedirs(dst)
    for name in sorted(os.listdir(src)):
        h_src, h_dst = hashlib.sha256(), hashlib.sha256()
        with open(os.path.join(src, name), "rb") as fi, open(os.path.join(dst, name), "wb") as fo:
            while chunk := fi.read(1 << 20):
                h_src.update(chunk)
                fo.write(chunk)
        with open(os.path.join(dst, name), "rb") as f:
            while chunk := f.read(1 << 20):
                h_dst.update(chunk)
        assert h_src.digest() == h_dst.digest(), name


JOBS = {f.__name__.replace("_", "-"): f for f in [
    duckdb_ingest, polars_ingest, pyarrow_ingest, delta_ingest, duckdb_promote, polars_promote,
    delta_promote, pyarrow_read, polars_read, duckdb_read, lake_python_read, duckdb_csv, polars_csv,
    hashlib_archive]}

if __name__ == "__main__":
    JOBS[sys.argv[1]](*sys.argv[2:])
    sys.stdout.flush()
    # Skip interpreter teardown, where some of these libraries' thread pools can abort at exit.
    os._exit(0)
