#!/usr/bin/env python3
"""Writes the sample raw data in this folder: customers, two months of orders, web events.

Deterministic (fixed seed). The data is messy on purpose, as raw exports are: inconsistent
case and spacing, `NA` and empty values, duplicated and re-sent records, refunds as negative
amounts, a column that appears in February's export only, events with missing fields.
"""
import json
import random
from datetime import datetime, timedelta

rng = random.Random(20261121)
FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "José",
         "Kai", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Zoë", "李雷"]
LAST = ["Alvarez", "Becker", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Hughes",
        "Ivanova", "Jensen", "Kowalski", "Lopez", "Müller", "Nakamura", "O'Brien", "Patel"]
COUNTRIES = ["DE", "de", "Germany", "FR", "fr", "ES", "US", "us ", "GB", "NL", "JP", ""]
TIERS = ["basic", "basic", "silver", "gold", "GOLD", "Silver", ""]


def csv_field(v):
    s = "" if v is None else str(v)
    if any(c in s for c in ',"\n'):
        s = '"' + s.replace('"', '""') + '"'
    return s


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(csv_field(v) for v in r) + "\n")


customers = []
start = datetime(2024, 1, 1)
for cid in range(1, 301):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    name = f"{last}, {first}" if rng.random() < 0.1 else f"{first} {last}"
    email = f"{first}.{last}{cid}@example.com".lower().replace("'", "")
    if rng.random() < 0.15:
        email = "  " + email.upper() + " "
    if rng.random() < 0.05:
        email = ""
    signup = (start + timedelta(days=rng.randrange(700))).date().isoformat()
    opt_in = rng.choice(["true", "false", "false", ""])
    customers.append([cid, name, email, rng.choice(COUNTRIES), signup, rng.choice(TIERS), opt_in])
# A CRM export that repeats some customers.
customers += [list(c) for c in rng.sample(customers, 6)]
write_csv("customers.csv",
          ["customer_id", "name", "email", "country", "signup_date", "tier", "marketing_opt_in"],
          customers)

STATUSES = ["paid", "paid", "paid", "PAID", "shipped", "pending ", "cancelled", "refunded"]
order_id = 100000


def orders(month, n, with_channel):
    global order_id
    rows = []
    base = datetime(2026, month, 1)
    for _ in range(n):
        order_id += 1
        status = rng.choice(STATUSES)
        amount = round(rng.lognormvariate(3.5, 0.8), 2)
        if status == "refunded":
            amount = -amount
        discount = rng.choice(["", "", "0", "5", "10.5", "NA"])
        row = [order_id, rng.randrange(1, 320), (base + timedelta(minutes=rng.randrange(40000))).isoformat(),
               status, rng.choice(["EUR", "EUR", "USD", "eur"]), amount, discount,
               rng.choice(["", "", "WELCOME10", "SPRING"]), rng.choice(COUNTRIES)]
        if with_channel:
            row.append(rng.choice(["web", "app", "store", "app"]))
        rows.append(row)
    # The shop re-sends a few orders later with an updated status.
    for r in rng.sample(rows, 8):
        again = list(r)
        again[3] = "shipped"
        rows.append(again)
    return rows


header = ["order_id", "customer_id", "ordered_at", "status", "currency", "amount", "discount",
          "coupon", "shipping_country"]
write_csv("orders/orders-2026-01.csv", header, orders(1, 1500, False))
write_csv("orders/orders-2026-02.csv", header + ["channel"], orders(2, 1500, True))

TYPES = ["page_view", "page_view", "page_view", "add_to_cart", "checkout", "search"]
PAGES = ["/", "/shoes", "/shoes/trail-runner", "/bags", "/cart", "/checkout", "/search"]
with open("events.ndjson", "w", encoding="utf-8") as f:
    base = datetime(2026, 2, 1)
    for i in range(5000):
        ev = {
            "event_id": f"ev-{i:06d}",
            "ts": (base + timedelta(seconds=rng.randrange(28 * 86400))).isoformat() + "Z",
            "type": rng.choice(TYPES),
            "url": f"https://shop.example.com{rng.choice(PAGES)}?utm_source={rng.choice(['mail', 'ads', 'direct'])}&page={rng.randrange(1, 4)}",
            "props": {"device": rng.choice(["mobile", "desktop", "tablet"]), "duration_ms": rng.randrange(50, 90000)},
        }
        if rng.random() < 0.8:
            ev["customer_id"] = rng.randrange(1, 320)
        elif rng.random() < 0.5:
            ev["customer_id"] = None
        if ev["type"] == "search":
            ev["query"] = rng.choice(["trail shoes", "bag", "Socks", "gift card"])
        f.write(json.dumps(ev, ensure_ascii=False) + "\n")
