"""The deployment report: the recommendation first, then the stages, the accuracy and speed
table with units, the plot, the machine and versions. Markdown for reading in a terminal or a
repository, one self-contained HTML page (plot embedded, no network fetches) for a browser.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from masktrt.benchmarks import precision_table as pt
from masktrt.benchmarks.recommendation import RECOMMENDED

PLOT = "precision.png"
STAGES = "stages.png"  # per-stage latency
SHEET = "contact_sheet.png"  # frames tracked by the recommended configuration (deploy)


def recommendation_line(out: Path) -> str:
    path = out / RECOMMENDED
    if not path.is_file():
        return "**No configuration passed its accuracy verdict: nothing is recommended.**"
    r = json.loads(path.read_text())
    return (f"**Recommended: {r['backend']} {r['precision'].upper()}** (`{r['folder']}`): {r['why']}. "
            f"`masktrt.open_tracker(\"{out}\")` runs it.")


def stage_rows(stages: list[Any]) -> list[str]:
    lines = ["| stage | status | time (s) | detail |", "|---|---|---|---|"]
    lines += [f"| {s.name} | {s.status} | {s.seconds:.1f} | {s.detail} |" for s in stages]
    return lines


def machine_lines(table: pt.PrecisionTable) -> list[str]:
    from masktrt.benchmarks.machine import machine_label

    machine = table.machine
    versions = ", ".join(f"{k} {v}" for k, v in (machine.get("libraries") or {}).items() if v)
    return [f"- machine: {machine_label(machine)}; load average {machine.get('load_average')}",
            f"- versions: {versions or 'not recorded'}",
            f"- sequences: {', '.join(table.settings.get('sequences', []))}"]


def markdown(out: Path, table: pt.PrecisionTable, stages: list[Any]) -> str:
    return "\n".join([f"# masktrt deploy: {table.tracker}", "", recommendation_line(out), "",
                      "## Stages", "", *stage_rows(stages), "",
                      "## Accuracy and speed (ms per frame: the tracker call)", "",
                      pt.markdown(table), "", f"![accuracy and speed]({PLOT})", "",
                      f"![per-stage latency]({STAGES})", "",
                      *sheet_lines(out), "## Machine", "", *machine_lines(table), ""])


def sheet_lines(out: Path) -> list[str]:
    if not (out / SHEET).is_file():
        return []
    return ["## Tracked frames (the recommended configuration, first sequence)", "",
            f"![tracked frames]({SHEET})", ""]


def to_html(text: str, folder: Path) -> str:
    """The Markdown as a page: headings, paragraphs, lists and pipe tables; images from
    `folder` inline (data URIs), so the page is one file."""
    body, rows = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append(line)
            continue
        if rows:
            body.append(_table(rows))
            rows = []
        body.append(_line(line, folder))
    if rows:
        body.append(_table(rows))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>masktrt deploy</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")


STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
         "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}"
         "img{max-width:100%}")


def _table(rows: list[str]) -> str:
    cells = [[html.escape(c.strip()) for c in r.strip("|").split("|")] for r in rows
             if not set(r) <= set("|-: ")]
    head = "".join(f"<th>{c}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _line(line: str, folder: Path) -> str:
    if line.startswith("!["):
        alt, _, name = line[2:].rstrip(")").partition("](")
        image = folder / name
        data = base64.b64encode(image.read_bytes()).decode() if image.is_file() else ""
        return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"
    if line.startswith("#"):
        level = len(line) - len(line.lstrip("#"))
        return f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>"
    if line.startswith("- "):
        return f"<p>&bull; {html.escape(line[2:])}</p>"
    return f"<p>{html.escape(line)}</p>" if line.strip() else ""


def write_report(out: Path, table: pt.PrecisionTable, stages: list[Any]) -> list[Path]:
    """report.md, report.html, precision.png and precision.json in `out`."""
    from masktrt.benchmarks.report import write_json

    pt.plot(table, out / PLOT)
    pt.plot_stages(table, out / STAGES)
    write_json(out / "precision.json", pt.to_json(table))
    text = markdown(out, table, stages)
    (out / "report.md").write_text(text)
    (out / "report.html").write_text(to_html(text, out))
    return [out / "report.md", out / "report.html"]
