#!/usr/bin/env python3
"""Write the customers dimension of the promote benchmarks: 2 M rows, deterministic.

usage: gen_customers.py OUT
"""
import random, sys
rng = random.Random(7)
with open(sys.argv[1], "w") as f:
    f.write("customer_id,segment,country,signup_year\n")
    rows = []
    for c in range(1, 2_000_000):
        rows.append(f"{c},{rng.choice(['consumer', 'smb', 'enterprise'])},{rng.choice(['DE', 'FR', 'US', 'JP', 'BR'])},{rng.randrange(2015, 2027)}\n")
        if len(rows) == 100_000:
            f.write("".join(rows)); rows = []
    f.write("".join(rows))
