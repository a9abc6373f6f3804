#!/usr/bin/env python3
"""Builds birthplaces.psv from python-codicefiscale's JSON tables and ISTAT's list.

Usage (see README.md beside this file for where the inputs come from):
    python3 convert.py CODICEFISCALE_DATA_DIR ISTAT_COMUNI_CSV > birthplaces.psv

Output: one line per period in which a Belfiore code had one name and province,
    code|istat|name|province|from|to
dates ISO (YYYY-MM-DD), empty when open; istat only for municipalities that exist
today. Consecutive periods with the same name and province are merged: a change of
territory does not change what a fiscal code means.
"""
import csv
import datetime as dt
import json
import sys
from collections import defaultdict

data_dir, istat_csv = sys.argv[1], sys.argv[2]


def day(s):
    return dt.date.fromisoformat(s[:10]) if s else None


rows = []
for name in ("municipalities.json", "countries.json", "deleted-countries.json"):
    for r in json.load(open(f"{data_dir}/{name}", encoding="utf-8")):
        code = r["code"]
        # "ND" marks municipalities the source has no Belfiore code for: useless here.
        if len(code) != 4:
            continue
        rows.append((code, r["name"].strip(), r["province"], day(r["date_created"]), day(r["date_deleted"])))

istat = {}
with open(istat_csv, encoding="latin-1") as f:
    reader = csv.reader(f, delimiter=";")
    next(reader)
    for r in reader:
        istat[r[19]] = r[4]

groups = defaultdict(list)
for code, name, prov, start, end in rows:
    groups[(code, name, prov)].append((start, end))

out = []
for (code, name, prov), periods in groups.items():
    periods.sort(key=lambda p: p[0] or dt.date.min)
    merged = []
    for start, end in periods:
        if merged:
            ps, pe = merged[-1]
            if pe is None or start is None or start <= pe + dt.timedelta(days=1):
                new_end = None if (pe is None or end is None) else max(pe, end)
                merged[-1] = (ps, new_end)
                continue
        merged.append((start, end))
    for start, end in merged:
        code_istat = istat.get(code, "") if end is None and prov != "EE" else ""
        out.append((code, code_istat, name, prov, start.isoformat() if start else "", end.isoformat() if end else ""))

out.sort(key=lambda r: (r[0], r[4], r[2]))
for r in out:
    assert "|" not in r[2]
    print("|".join(r))
