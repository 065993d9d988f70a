#!/usr/bin/env python3
"""Write a deterministic orders CSV of about SIZE bytes with 12 mixed columns.

usage: gen_csv.py OUT [SIZE_MB]   (default 1024)
"""
import random
import sys

out, size_mb = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1024
target = size_mb * 1024 * 1024
rng = random.Random(42)
statuses = ["paid", "shipped", "pending", "cancelled", "refunded"]
countries = ["DE", "FR", "ES", "US", "GB", "NL", "JP", "BR", "IN", "PL"]
words = ["gift", "express", "fragile", "", "", "", "leave at door", "call first", "", "b2b"]
header = "order_id,customer_id,ordered_at,order_date,amount,quantity,unit_price,status,country,email,is_member,note\n"

with open(out, "w", newline="") as f:
    f.write(header)
    written = len(header)
    i = 0
    while written < target:
        lines = []
        for _ in range(20000):
            i += 1
            c = rng.randrange(1, 2_000_000)
            q = rng.randrange(1, 9)
            p = rng.randrange(100, 50000) / 100
            day = 1 + (i // 40000) % 28
            line = (
                f"{i},{c},2026-01-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d},"
                f"2026-01-{day:02d},{q * p:.2f},{q},{p:.2f},{rng.choice(statuses)},{rng.choice(countries)},"
                f"user{c}@example.com,{'true' if c % 3 == 0 else 'false'},{rng.choice(words)}\n"
            )
            lines.append(line)
        chunk = "".join(lines)
        f.write(chunk)
        written += len(chunk)
print(f"{out}: {written} bytes, {i} rows")
