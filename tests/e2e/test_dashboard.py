"""The Grafana dashboard plots only what the bot serves: every metric its queries name is in a
running bot's /metrics, with the type the query's suffix implies and the labels it groups by."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import World

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "akool-bot.json"
_NAME = re.compile(r"\bakool_bot_[a-z0-9_]+")
_MATCHERS = re.compile(r"\b(akool_bot_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
# Prometheus adds these to every series it scrapes.
_TARGET_LABELS = frozenset({"instance", "job"})
# A sample's suffix, and the type of family that has it.
_SUFFIXES = {
    "_total": "counter",
    "_bucket": "histogram",
    "_count": "histogram",
    "_sum": "histogram",
}


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def family_of(name: str) -> tuple[str, str]:
    """``(family, type)`` a sample name belongs to (a bare name is a gauge)."""
    for suffix, kind in _SUFFIXES.items():
        if name.endswith(suffix):
            return name.removesuffix(suffix), kind
    return name, "gauge"


async def test_every_metric_the_dashboard_plots_is_served(hooked: World):
    world = hooked
    dashboard = json.loads(DASHBOARD.read_text())
    async with world.running():
        # A job and a refused callback, so that most series have samples with their labels.
        await world.discord.slash_command(world.alice, world.channel, "imagine", {"prompt": "x"})
        post = await world.wait_for_post(world.is_post)
        forged = world.akool.webhook_body(world.akool.webhook_payload(str(post.nonce)))
        forged["signature"] = "f" * 40
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{world.http_base}/akool/webhook", json=forged) as response:
                assert response.status == 401
            async with http.get(f"{world.http_base}/metrics") as response:
                text = await response.text()

    families = {f.name: f for f in text_string_to_metric_families(text)}
    labels: dict[str, set[str]] = {}
    for family in families.values():
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)

    exprs = queries(dashboard)
    assert exprs, "the dashboard has no queries"
    named = {name for expr in exprs for name in _NAME.findall(expr)}
    # Every family the bot serves is plotted somewhere, and nothing else is.
    assert {family_of(name)[0] for name in named} == set(families)
    for name in sorted(named):
        base, kind = family_of(name)
        assert base in families, f"{name}: the bot serves no {base}"
        assert families[base].type == kind, f"{name}: {base} is a {families[base].type}"
    for expr in exprs:
        grouped = {label.strip() for clause in _BY.findall(expr) for label in clause.split(",")}
        grouped -= _TARGET_LABELS
        for name in _NAME.findall(expr):
            if name in labels:  # a labelled series with no samples yet shows no labels
                assert grouped <= labels[name], f"{expr}: {name} has labels {labels[name]}"
        for name, matchers in _MATCHERS.findall(expr):
            wanted = set(_MATCHER_LABEL.findall(matchers))
            assert name in labels, f"{expr}: {name} has no samples to match"
            assert wanted <= labels[name], f"{expr}: {name} has labels {labels[name]}"


def test_the_dashboard_is_importable():
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]

    assert dashboard["uid"]
    assert dashboard["title"]
    assert len(ids) == len(set(ids))
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource"}
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
