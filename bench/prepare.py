#!/usr/bin/env python3
"""The untimed inputs of bench/peers.sh, made once from gen_orders.py's CSVs.

usage: prepare.py DATA_DIR
  orders_pq/part-N.parquet   orders as Parquet (1 M rows a file, 128 Ki-row row groups, zstd 3)
  customers.parquet
  delta/orders, delta/customers   the same as Delta tables, for delta-rs
"""
import sys

import pyarrow.csv as pcsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import WriterProperties, write_deltalake

d = sys.argv[1]
orders, customers = pcsv.read_csv(f"{d}/orders.csv"), pcsv.read_csv(f"{d}/customers.csv")
zstd = ds.ParquetFileFormat().make_write_options(compression="zstd", compression_level=3)
ds.write_dataset(orders, f"{d}/orders_pq", format="parquet", basename_template="part-{i}.parquet",
                 max_rows_per_file=1_000_000, min_rows_per_group=131_072, max_rows_per_group=131_072,
                 file_options=zstd, existing_data_behavior="delete_matching")
pq.write_table(customers, f"{d}/customers.parquet", compression="zstd", compression_level=3)
wp = WriterProperties(compression="ZSTD", compression_level=3)
write_deltalake(f"{d}/delta/orders", orders, mode="overwrite", writer_properties=wp)
write_deltalake(f"{d}/delta/customers", customers, mode="overwrite", writer_properties=wp)
print(f"prepared {d}: {orders.num_rows} orders, {customers.num_rows} customers")
