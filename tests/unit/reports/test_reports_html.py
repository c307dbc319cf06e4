"""The HTML report: rendered from a packaged Jinja2 template with autoescape, its figures the same
list as the table's, times in the campaign's zone, the contacts that need attention with reasons,
and every text in Russian with `--lang ru`."""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.reports.figures import report_figures
from dialer.reports.html_report import environment, write_html
from dialer.reports.messages import Lang, Texts
from dialer.reports.summary import campaign_summary
from dialer.reports.table import summary_table
from dialer.reports.zone import campaign_zone
from tests.unit.factories import add_campaign, report_campaign
from tests.unit.reports.conftest import Invoke


def test_the_template_ships_in_the_package_and_autoescapes() -> None:
    template = resources.files("dialer.reports") / "templates" / "report.html.j2"
    assert template.is_file()
    assert environment().autoescape is True


def test_a_hostile_campaign_name_is_text(session: Session) -> None:
    campaign = add_campaign(session, "<b>sale</b>", pause_reason="<img src=x onerror=alert(1)>")
    out = io.StringIO()
    write_html(session, campaign, out)
    page = out.getvalue()
    assert "<b>sale</b>" not in page
    assert "&lt;b&gt;sale&lt;/b&gt;" in page
    assert "<img" not in page


def test_table_and_html_show_the_same_figures(session: Session) -> None:
    campaign = report_campaign(session)
    summary = campaign_summary(session, campaign)
    figures = report_figures(campaign, summary, campaign_zone(campaign), Texts())
    out = io.StringIO()
    write_html(session, campaign, out)
    console = Console(file=io.StringIO(), width=120)
    console.print(summary_table(campaign, summary))
    table = console.file.getvalue()  # type: ignore[attr-defined]
    for figure in figures:
        assert f"<tr><th>{figure.label}</th><td>{figure.value}</td></tr>" in out.getvalue()
        assert figure.label in table
        assert figure.value in table
    shown = {f.key: f.value for f in figures}
    assert shown["first_call"] == "2026-03-02 12:00:00 MSK"  # 09:00 UTC, in Moscow
    assert shown["zone"] == "Europe/Moscow (MSK)"


def test_html_lists_the_contacts_that_need_attention_with_reasons(
    database: Engine, tmp_path: Path, cli: Invoke
) -> None:
    target = tmp_path / "r.html"
    result = cli(["report", "spring", "-f", "html", "--lang", "ru", "-o", str(target)])
    assert result.exit_code == 0, result.output
    page = target.read_text(encoding="utf-8")
    assert '<html lang="ru">' in page
    assert "Отчёт о доставке: spring" in page
    assert "Контакты, требующие внимания (3)" in page
    attention = page[page.index('id="attention"') :]
    assert "invalid_contact: invalid_contact from the provider" in attention
    assert "contact_not_allowed: contact_not_allowed from the provider" in attention
    assert Texts(Lang.RU)("reason.unknown") in attention
    assert "79260000009" in attention  # the unknown one
    assert "79260000001" not in attention  # pending: nothing to look at
    assert "2026-03-02 12:02:00 MSK" in page
    assert "UTC" not in page


def test_html_in_english_by_default(database: Engine, cli: Invoke) -> None:
    result = cli(["report", "spring", "-f", "html"])
    assert result.exit_code == 0, result.output
    assert "Contacts that need attention (3)" in result.output
    assert "Отчёт" not in result.output
