"""`segflow import FILE`: the real command in a subprocess against the dev server and a
worker: bad lines reported by line number and skipped, the rest stored, a population run at
the end (classes final), every line audited once."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
from pathlib import Path

from sqlalchemy import func, select

from store import db
from store.models import Assignment, AuditEntry, Customer
from tests.e2e.conftest import Stack

SEGFLOW = Path(sys.executable).parent / "segflow"


async def _segflow(stack: Stack, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "SEGFLOW_VAR_DIR": str(stack.settings.var_dir),
        "SEGFLOW_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "SEGFLOW_TASK_QUEUE": stack.settings.task_queue,
    }
    proc = await asyncio.create_subprocess_exec(
        str(SEGFLOW), *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_import_csv_with_bad_lines_then_population_run(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["customer_id", "tariff", "annual_revenue", "overdue_days"])
        for i in range(120):
            w.writerow([f"M{i:04d}", "residential", 10_000 - i, 0])
            if i == 40:
                w.writerow(["BAD-1", "residential", 5, -3])  # line 43: negative days
            if i == 80:
                w.writerow(["BAD 2", "residental", 5, 0])  # line 84: id and tariff
    code, out, err = await _segflow(stack, "import", str(path), "--chunk", "50", "--quiet")
    assert code == 1, err
    assert f"{path}:43: overdue_days:" in err
    assert f"{path}:84: customer_id:" in err and f"{path}:84: tariff:" in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["lines"], summary["stored"], summary["bad_lines"]) == (122, 120, 2)
    assert summary["population_run"]["customers"] == 120

    sessions = db.session_factory(db.make_engine(stack.settings.store_url))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 120
        classes = dict(s.execute(select(Assignment.customer_id, Assignment.abc_class)).all())
        chunks = s.scalar(select(func.count()).where(AuditEntry.action == "customer.imported"))
    # final classes: ceil(5% of 120) = 6 A, ceil(20%) = 24 A or B
    assert [c for c, k in sorted(classes.items()) if k == "A"] == [f"M{i:04d}" for i in range(6)]
    assert sum(k in "AB" for k in classes.values()) == 24
    assert chunks == 3  # 120 records in chunks of 50

    # a JSONL file; no run, so classes are provisional against the run's cut points
    more = tmp_path / "more.jsonl"
    more.write_text(
        json.dumps({"customer_id": "M9000", "annual_revenue": 1e9}) + "\n"
        + "{not json\n"
        + json.dumps({"customer_id": "M0000", "annual_revenue": 1.0}) + "\n"
    )  # fmt: skip
    code, out, err = await _segflow(stack, "import", str(more), "--no-run", "--quiet")
    assert code == 1 and f"{more}:2: -: invalid JSON" in err
    with sessions() as s:
        assert s.get(Assignment, "M9000").abc_class == "A"  # type: ignore[union-attr]
        assert s.get(Assignment, "M0000").abc_class == "C"  # type: ignore[union-attr]
