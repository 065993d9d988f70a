#!/usr/bin/env python3
"""Deterministic e-commerce data for bench/peers.sh: orders as CSV and NDJSON, customers as CSV.

usage: gen_orders.py OUT_DIR [ORDERS]      (default 5,000,000 orders; customers = orders / 10)

orders has 13 columns: ids, two timestamps (one null until shipped), categoricals with a skew,
an int32 quantity, floats (a nullable discount), and a free-text note that is null for most rows,
holds commas for some and quotes for a few, so CSV needs quoting. About 1% of the rows are exact
copies of a row shortly before them, as a retried event would be. The same ORDERS always gives
byte-identical files.
"""
import os
import sys

import numpy as np
import polars as pl

SEED = 42_2026
CHUNK = 500_000
EPOCH = int(np.datetime64("2023-01-01T00:00:00", "s").astype(np.int64))
SPAN = 730 * 86400

STATUS = ["delivered", "shipped", "placed", "returned", "cancelled"], [0.70, 0.12, 0.08, 0.05, 0.05]
PAYMENT = ["card", "paypal", "apple_pay", "voucher", None], [0.60, 0.20, 0.10, 0.05, 0.05]
CATEGORIES = ("electronics books clothing home garden toys sports beauty grocery automotive music "
              "movies office pets baby health jewelry shoes tools kitchen outdoor games software crafts").split()
COUNTRIES = "US DE GB FR IN BR CA JP ES IT NL PL SE MX AU TR BE CH AT DK NO FI IE PT CZ RO GR HU NZ ZA".split()
WORDS = ("leave at the door gift wrap call before delivery fragile handle with care second floor ring "
         "twice back entrance office hours weekend neighbour parcel box no signature replacement birthday "
         "urgent express missing part damaged return label invoice copy VAT number company receipt").split()
NAMES = "Ada Bo Chen Dana Emil Fatima Goran Hana Ivo Jun Kofi Lea Mateo Nia Omar Pia Quinn Ravi Sofia Theo".split()
SURNAMES = "Meyer García Rossi Nowak Dubois Costa Sato Horvat Berg Yılmaz Jones Patel Lee Ortiz Novak".split()


def choice(rng, values, n, p=None):
    if p is None:  # a Zipf-like skew: value i weighs 1 / (i + 1)
        w = 1.0 / np.arange(1, len(values) + 1)
        p = w / w.sum()
    return pl.Series(values).gather(rng.choice(len(values), n, p=p))


def notes(rng, n):
    phrases = [" ".join(rng.choice(WORDS, rng.integers(2, 6))) for _ in range(4000)]
    for i in range(0, len(phrases), 40):
        phrases[i] = f'asked "{phrases[i]}"'
    pool = pl.Series(phrases)
    one, two = pool.gather(rng.integers(0, len(pool), n)), pool.gather(rng.integers(0, len(pool), n))
    joined = pl.select(pl.concat_str([one, two], separator=", ")).to_series()
    keep = rng.random(n)
    return pl.select(pl.when(pl.lit(keep < 0.2)).then(joined)
                     .when(pl.lit(keep < 0.4)).then(one).otherwise(None)).to_series()


def orders(rng, first, m, total, customers):
    n = m - m // 100
    ids = np.arange(first, first + n, dtype=np.int64)
    ts = EPOCH + (ids - 1) * SPAN // total + rng.integers(0, 3600, n)
    status = choice(rng, STATUS[0], n, STATUS[1])
    shipped = ts + rng.integers(3600, 6 * 86400, n)
    qty = np.minimum(rng.geometric(0.45, n), 25).astype(np.int32)
    price = np.round(np.clip(rng.lognormal(3.1, 0.9, n), 0.5, 4000.0), 2)
    disc = np.where(rng.random(n) < 0.3, rng.choice([0.05, 0.1, 0.2, 0.25, 0.5], n), np.nan)
    cust = (1 + customers * rng.random(n) ** 2).astype(np.int64)
    df = pl.DataFrame({
        "order_id": ids,
        "customer_id": pl.Series(cust).set(pl.Series(rng.random(n) < 0.01), None),
        "order_ts": ts,
        "ship_ts": shipped,
        "status": status,
        "category": choice(rng, CATEGORIES, n),
        "country": choice(rng, COUNTRIES, n),
        "payment_type": choice(rng, PAYMENT[0], n, PAYMENT[1]),
        "quantity": qty,
        "unit_price": price,
        "discount": disc,
        "total": np.round(qty * price * (1 - np.nan_to_num(disc)), 2),
        "note": notes(rng, n),
    }).with_columns(
        pl.col("discount").fill_nan(None),
        pl.when(pl.col("status").is_in(["placed", "cancelled"])).then(None).otherwise(pl.col("ship_ts")).alias("ship_ts"),
    ).with_columns(pl.from_epoch(c, "s").dt.strftime("%Y-%m-%d %H:%M:%S") for c in ("order_ts", "ship_ts"))
    # ~1% exact copies, each a few hundred rows after the row it copies
    copies = rng.integers(0, n, m - n)
    position = np.concatenate([np.arange(n), copies + rng.integers(1, 800, m - n)])
    order = np.concatenate([np.arange(n), copies])[np.argsort(position, kind="stable")]
    return df[order], n


def customer_table(rng, c):
    ids = np.arange(1, c + 1)
    first = pl.Series(NAMES).gather(rng.integers(0, len(NAMES), c))
    last = pl.Series(SURNAMES).gather(rng.integers(0, len(SURNAMES), c))
    return pl.DataFrame({
        "customer_id": ids,
        "name": pl.select(pl.concat_str([first, last], separator=" ")).to_series(),
        "email": pl.select(pl.concat_str([first.str.to_lowercase(), pl.lit("."), pl.Series(ids).cast(pl.String),
                                          pl.lit("@example.org")])).to_series(),
        "signup_date": pl.from_epoch(pl.Series(EPOCH - rng.integers(0, 4 * 365 * 86400, c)), "s").dt.date(),
        "segment": choice(rng, ["consumer", "smb", "enterprise"], c, p=[0.8, 0.15, 0.05]),
        "country": choice(rng, COUNTRIES, c),
        "is_active": pl.Series(rng.random(c) < 0.85).set(pl.Series(rng.random(c) < 0.02), None),
        "lifetime_value": np.round(rng.lognormal(5, 1.4, c), 2),
    })


def main():
    out = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000
    os.makedirs(out, exist_ok=True)
    customers = max(total // 10, 1000)
    customer_table(np.random.default_rng([SEED, 1]), customers).write_csv(f"{out}/customers.csv")
    next_id = 1
    with open(f"{out}/orders.csv", "wb") as csv, open(f"{out}/orders.ndjson", "wb") as nd:
        for start in range(0, total, CHUNK):
            m = min(CHUNK, total - start)
            df, used = orders(np.random.default_rng([SEED, 2, start]), next_id, m, total, customers)
            df.write_csv(csv, include_header=start == 0)
            df.write_ndjson(nd)
            next_id += used
    for name in ("orders.csv", "orders.ndjson", "customers.csv"):
        print(f"{out}/{name}: {os.path.getsize(f'{out}/{name}') / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
