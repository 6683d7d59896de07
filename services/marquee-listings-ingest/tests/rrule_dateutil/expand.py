"""Expands the recurrence cases of tests/rrule_dateutil with python-dateutil.

Reads a JSON list of cases ({"tz", "dtstart" (local wall time), "rrule",
"exdates" (local wall times), "from", "to" (UTC)}) from the file named by
argv[1] and prints, for each, the UTC instants of its occurrences within
[from, to]. dtstart is tz-aware, so dateutil keeps its wall-clock time across
DST changes (RFC 5545 section 3.3.10); zoneinfo resolves a wall time in a gap
or a fold with fold=0, the same rule as Marquee's resolve_local.
"""

import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def expand(case):
    tz = ZoneInfo(case["tz"])
    rules = rruleset()
    rules.rrule(rrulestr(case["rrule"], dtstart=datetime.fromisoformat(case["dtstart"]).replace(tzinfo=tz)))
    for exdate in case["exdates"]:
        rules.exdate(datetime.fromisoformat(exdate).replace(tzinfo=tz))
    return [
        at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for at in rules.between(utc(case["from"]), utc(case["to"]), inc=True)
    ]


with open(sys.argv[1], encoding="utf-8") as cases:
    print(json.dumps([expand(case) for case in json.load(cases)]))
