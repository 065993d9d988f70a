#!/usr/bin/env python3
"""lake beside DuckDB, Polars, pyarrow and delta-rs on the same data, paired run by run.

usage: peers.py LAKE DATA_DIR WORK_DIR [--runs N] [--only JOB,...]   (bench/peers.sh sets it up)

Every job runs each command once to warm up, then N rounds; a round runs lake and then every
peer, one after another, so each ratio lake / peer is taken from runs made moments apart. The
table gives the median ratio (and its range), each side's median wall time and peak RSS (the
child's, from wait4). Below 1, lake is faster. An untimed `prepare` step gives every lake run a
fresh lake or a fresh copy where a job changes its lake.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)
PY = sys.executable
PEER = [PY, os.path.join(HERE, "peer.py")]


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def run(cmd, stdout=None):
    """Wall seconds and peak RSS (MiB) of one command; fails loudly if it fails."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    if stdout:
        out.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024


class Bench:
    def __init__(self, lake, data, work, runs):
        self.lake, self.data, self.work, self.runs = lake, data, work, runs
        self.rows = []

    def fresh(self, project):
        """An empty lake at `project` whose ingest writes zstd level 3, as the peers do."""
        shutil.rmtree(project, ignore_errors=True)
        sh(self.lake, "init", project, "-q")
        toml = os.path.join(project, "lake.toml")
        text = open(toml).read()
        assert "zstd_level = " in text, "lake.toml has no zstd_level"
        with open(toml, "w") as f:
            f.write("\n".join("zstd_level = 3" if line.startswith("zstd_level = ") else line
                              for line in text.splitlines()) + "\n")

    def job(self, title, goal, mb, lake_cmd, peers, prepare=None, peer_prepare=None, stdout=None):
        """Time `lake_cmd` against each `(name, cmd)` of `peers`; record one row per peer."""
        print(f">> {title}", file=sys.stderr, flush=True)
        times = {"lake": []}
        for name, _ in peers:
            times[name] = []
        for i in range(1 + self.runs):
            if prepare:
                prepare()
            lake = run(lake_cmd, stdout)
            for name, cmd in peers:
                if peer_prepare:
                    peer_prepare()
                peer = run(cmd, stdout)
                if i > 0:
                    times[name].append(peer)
            if i > 0:
                times["lake"].append(lake)
        lake_wall = [w for w, _ in times["lake"]]
        lake_rss = max(r for _, r in times["lake"])
        for name, _ in peers:
            peer_wall = [w for w, _ in times[name]]
            ratios = [a / b for a, b in zip(lake_wall, peer_wall)]
            self.rows.append({
                "job": title, "goal": goal, "peer": name, "mb": mb,
                "ratio": statistics.median(ratios), "lo": min(ratios), "hi": max(ratios),
                "lake_s": statistics.median(lake_wall), "peer_s": statistics.median(peer_wall),
                "lake_rss": lake_rss, "peer_rss": max(r for _, r in times[name]),
            })
            r = self.rows[-1]
            print(f"   {name}: ratio {r['ratio']:.2f} (lake {r['lake_s']:.2f} s, {name} {r['peer_s']:.2f} s)",
                  file=sys.stderr, flush=True)

    def table(self):
        out = ["| job | peer | peer s (MiB) | lake s (MB/s, MiB) | ratio lake/peer (min–max) | goal |",
               "|---|---|---|---|---|---|"]
        for r in self.rows:
            rate = f"{r['mb'] / r['lake_s']:.0f} MB/s, " if r["mb"] else ""
            out.append(f"| {r['job']} | {r['peer']} | {r['peer_s']:.2f} ({r['peer_rss']:.0f}) | "
                       f"{r['lake_s']:.2f} ({rate}{r['lake_rss']:.0f}) | **{r['ratio']:.2f}** "
                       f"({r['lo']:.2f}–{r['hi']:.2f}) | {r['goal']} |")
        return "\n".join(out)

    def summary(self):
        """Per job: the fastest peer, lake's ratio to it, and whether the goal is met."""
        out = ["| job | fastest peer | lake | ratio | goal | met |", "|---|---|---|---|---|---|"]
        jobs = []
        for r in self.rows:
            if r["job"] not in jobs:
                jobs.append(r["job"])
        for job in jobs:
            rows = [r for r in self.rows if r["job"] == job and not r["peer"].startswith("(")]
            best = min(rows, key=lambda r: r["peer_s"])
            limit = float(best["goal"].lstrip("≤ ").rstrip("×"))
            out.append(f"| {job} | {best['peer']} {best['peer_s']:.2f} s | {best['lake_s']:.2f} s | "
                       f"**{best['ratio']:.2f}×** | {best['goal']} | {'yes' if best['ratio'] <= limit else 'no'} |")
        return "\n".join(out)


def mb(*paths):
    total = 0
    for p in paths:
        if os.path.isdir(p):
            total += sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(p) for f in fs)
        else:
            total += os.path.getsize(p)
    return total / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lake")
    ap.add_argument("data")
    ap.add_argument("work")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    want = lambda job: not only or job in only  # noqa: E731
    b = Bench(a.lake, a.data, a.work, a.runs)
    D, W, L = a.data, a.work, a.lake
    csv, nd, pq, cust = f"{D}/orders.csv", f"{D}/orders.ndjson", f"{D}/orders_pq", f"{D}/customers.parquet"
    out = f"{W}/out"
    os.makedirs(out, exist_ok=True)

    def clean_out():
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)

    ing = f"{W}/ingest"
    for job, src, goal in (("ingest-csv", csv, "≤ 0.6×"), ("ingest-ndjson", nd, "≤ 0.9×")):
        if not want(job):
            continue
        kind = "CSV" if job.endswith("csv") else "NDJSON"
        b.job(f"ingest {kind} {mb(src):.0f} MB", goal, mb(src),
              [L, "-C", ing, "ingest", src, "--into", "bronze.orders", "-q"],
              [("duckdb", PEER + ["duckdb-ingest", src, f"{out}/o.parquet"]),
               ("polars", PEER + ["polars-ingest", src, f"{out}/o.parquet"]),
               ("pyarrow", PEER + ["pyarrow-ingest", src, f"{out}/o.parquet"]),
               ("delta-rs", PEER + ["delta-ingest", src, f"{out}/o.delta"])],
              prepare=lambda: b.fresh(ing), peer_prepare=clean_out)

    prom = f"{W}/promote"
    if any(want(j) for j in ("promote-agg", "promote-join", "read", "scan-csv")):
        b.fresh(prom)
        sh(L, "-C", prom, "ingest", pq, "--into", "bronze.orders", "-q")
        sh(L, "-C", prom, "ingest", cust, "--into", "bronze.customers", "-q")
        os.makedirs(f"{prom}/jobs/silver", exist_ok=True)
        for name in ("agg", "join"):
            sql = open(f"{HERE}/sql/{name}.sql").read()
            sql = sql.replace("FROM orders", "FROM bronze.orders").replace("JOIN customers", "JOIN bronze.customers")
            with open(f"{prom}/jobs/silver/orders_{name}.sql", "w") as f:
                f.write(sql)
    for name, goal in (("agg", "≤ 0.9×"), ("join", "≤ 0.9×")):
        if not want(f"promote-{name}"):
            continue
        sql = f"{HERE}/sql/{name}.sql"
        b.job(f"promote {name}", goal, mb(pq, cust),
              [L, "-C", prom, "promote", "--select", f"silver.orders_{name}", "--full-refresh", "-q"],
              [("delta-rs", PEER + ["delta-promote", sql, f"{D}/delta/orders", f"{D}/delta/customers", f"{out}/p.delta"]),
               ("duckdb", PEER + ["duckdb-promote", sql, pq, cust, f"{out}/p.parquet"]),
               ("polars", PEER + ["polars-promote", sql, pq, cust, f"{out}/p.parquet"])],
              peer_prepare=clean_out)

    if want("read") or want("scan-csv"):
        sh(L, "-C", prom, "pin", "bronze.orders", "--lock", "lake.lock", "-q", cwd=prom)
        data = f"{prom}/lake-data/bronze/orders/data"
        size = mb(data)
    if want("read"):
        b.job("pinned read, sha256 verified", "≤ 1.0×", size,
              [L, "-C", prom, "scan", "bronze.orders", "--format", "arrow"],
              [("pyarrow", PEER + ["pyarrow-read", data]),
               ("polars", PEER + ["polars-read", data]),
               ("duckdb", PEER + ["duckdb-read", data]),
               ("(lake Python reader, verified)", PEER + ["lake-python-read", CHECKOUT, prom, "bronze.orders"])],
              stdout="/dev/null")
    if want("scan-csv"):
        b.job("lake scan to CSV", "≤ 1.0×", size,
              [L, "-C", prom, "scan", "bronze.orders"],
              [("duckdb", PEER + ["duckdb-csv", data]), ("polars", PEER + ["polars-csv", data])],
              stdout="/dev/null")

    if want("archive"):
        tpl, arch = f"{W}/archive-template", f"{W}/archive"
        b.fresh(tpl)
        sh(L, "-C", tpl, "ingest", pq, "--into", "bronze.orders", "-q")
        with open(f"{W}/small.csv", "w") as f:
            f.writelines(line for _, line in zip(range(1000), open(csv)))
        sh(L, "-C", tpl, "ingest", f"{W}/small.csv", "--into", "bronze.orders", "--mode", "overwrite", "-q")
        sh(L, "-C", tpl, "rule", "add", "--zone", "bronze", "--archive-after", "0s", "--keep-last", "1", "-q")
        data = f"{tpl}/lake-data/bronze/orders/data"
        old = sorted(os.listdir(data))

        def copy_template():
            shutil.rmtree(arch, ignore_errors=True)
            sh("cp", "-a", tpl, arch)
        b.job("archive one version (copy + verify)", "≤ 1.2×", mb(data),
              [L, "-C", arch, "archive", "-q"],
              [("python hashlib", PEER + ["hashlib-archive", data, f"{out}/cold"]),
               ("(cp + sha256sum)", ["sh", "-c", f"cp -r {data}/. {out}/cold2/ && cd {data} && "
                                     f"sha256sum {' '.join(old)} > {out}/sums && cd {out}/cold2 && sha256sum --quiet -c {out}/sums"])],
              prepare=copy_template, peer_prepare=lambda: (clean_out(), os.makedirs(f"{out}/cold2")))

    print(f"\n## lake beside its peers ({os.cpu_count()} cores, median of {a.runs} paired runs)\n")
    print(b.summary())
    print("\nEvery peer (a name in parentheses is shown, not ranked):\n")
    print(b.table())


if __name__ == "__main__":
    main()
