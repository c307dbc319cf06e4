"""Every human-facing text of the reports and the CLI's summaries, in English and Russian.

A small catalogue, not gettext: one dict per message id, `{lang: text}`, with `str.format` fields.
`Texts(lang)("key", n=3)` gives the text; a message missing in a language falls back to English,
and a test checks that none is missing. Machine outputs (JSON, CSV headers) are never translated.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Lang(enum.StrEnum):
    """The languages of the human-facing texts."""

    EN = "en"
    RU = "ru"


MESSAGES: dict[str, dict[str, str]] = {
    # The report's figures (`figures.report_figures`), shared by the table and the HTML page.
    "fig.method": {"en": "method", "ru": "метод"},
    "fig.state": {"en": "state", "ru": "состояние"},
    "fig.paused_because": {"en": "paused because", "ru": "причина паузы"},
    "fig.contacts": {"en": "contacts", "ru": "контактов"},
    "fig.attempts": {"en": "attempts", "ru": "запросов к API"},
    "fig.placed": {"en": "placed", "ru": "звонок создан"},
    "fig.failed": {"en": "failed", "ru": "ошибка"},
    "fig.blacklisted": {"en": "blacklisted", "ru": "в чёрном списке"},
    "fig.unknown": {"en": "unknown", "ru": "не подтверждено"},
    "fig.answered": {"en": "answered", "ru": "ответили"},
    "fig.not_answered": {"en": "not answered", "ru": "не ответили"},
    "fig.answered_rate_known": {
        "en": "answered, of contacts whose call result is known",
        "ru": "ответили, из контактов с известным итогом звонка",
    },
    "fig.answered_rate_called": {
        "en": "answered, of contacts called",
        "ru": "ответили, из контактов, которым звонили",
    },
    "fig.share": {
        "en": "{percent:.2f}% ({part} of {whole})",
        "ru": "{percent:.2f}% ({part} из {whole})",
    },
    "fig.to_dial": {"en": "still to dial", "ru": "ещё обзвонить"},
    "fig.first_call": {"en": "first call", "ru": "первый звонок"},
    "fig.last_call": {"en": "last call", "ru": "последний звонок"},
    "fig.rate": {"en": "calls per minute", "ru": "звонков в минуту"},
    "fig.zone": {"en": "times in", "ru": "часовой пояс"},
    # Contact statuses, as a person reads them.
    "status.pending": {"en": "pending", "ru": "ожидает"},
    "status.queued": {"en": "queued", "ru": "в очереди"},
    "status.dialing": {"en": "dialing", "ru": "набирается"},
    "status.placed": {"en": "placed", "ru": "звонок создан"},
    "status.answered": {"en": "answered", "ru": "ответил"},
    "status.not_answered": {"en": "not answered", "ru": "не ответил"},
    "status.failed": {"en": "failed", "ru": "ошибка"},
    "status.blacklisted": {"en": "blacklisted", "ru": "в чёрном списке"},
    "status.unknown": {"en": "unknown", "ru": "не подтверждено"},
    "status.cancelled": {"en": "cancelled", "ru": "отменён"},
    # Dispositions: how a call ended, as a person reads it.
    "disposition.answered": {"en": "answered", "ru": "ответил"},
    "disposition.busy": {"en": "busy", "ru": "занято"},
    "disposition.no_answer": {"en": "no answer", "ru": "не ответил"},
    "disposition.bad_number": {"en": "bad number", "ru": "неверный номер"},
    "disposition.blocked": {"en": "blocked", "ru": "заблокирован"},
    "disposition.campaign_error": {"en": "campaign error", "ru": "ошибка кампании"},
    "disposition.provider_error": {"en": "provider error", "ru": "ошибка провайдера"},
    "disposition.other": {"en": "other", "ru": "другое"},
    # What one request came to (an attempt's outcome).
    "outcome.requesting": {"en": "requesting", "ru": "запрос отправлен"},
    "outcome.placed": {"en": "placed", "ru": "звонок создан"},
    "outcome.transient": {"en": "transient", "ru": "временная ошибка"},
    "outcome.unreachable": {"en": "unreachable", "ru": "API недоступен"},
    "outcome.rate_limited": {"en": "rate limited", "ru": "лимит баллов"},
    "outcome.contact_error": {"en": "contact error", "ru": "ошибка контакта"},
    "outcome.blacklisted": {"en": "blacklisted", "ru": "в чёрном списке"},
    "outcome.campaign_error": {"en": "campaign error", "ru": "ошибка кампании"},
    "outcome.unknown": {"en": "unknown", "ru": "не подтверждено"},
    # Campaign states.
    "state.draft": {"en": "draft", "ru": "черновик"},
    "state.running": {"en": "running", "ru": "идёт"},
    "state.paused": {"en": "paused", "ru": "на паузе"},
    "state.completed": {"en": "completed", "ru": "завершена"},
    "state.cancelled": {"en": "cancelled", "ru": "отменена"},
    # The report's sections.
    "report.title": {"en": "Delivery report: {name}", "ru": "Отчёт о доставке: {name}"},
    "report.period": {
        "en": "Started {started}, finished {finished}.",
        "ru": "Начата {started}, завершена {finished}.",
    },
    "report.table_title": {"en": "Campaign {name} ({state})", "ru": "Кампания {name} ({state})"},
    "report.chart": {"en": "Calls per minute", "ru": "Звонки в минуту"},
    "report.no_calls": {"en": "No calls yet.", "ru": "Звонков ещё не было."},
    "report.chart_title": {
        "en": "Calls per minute against the points limit",
        "ru": "Звонки в минуту и лимит баллов",
    },
    "report.chart_tip": {"en": "{at}: {rate} calls/min", "ru": "{at}: {rate} звонков/мин"},
    "report.chart_bars_minute": {
        "en": "Bars: calls per minute.",
        "ru": "Столбцы: звонки за минуту.",
    },
    "report.chart_bars_span": {
        "en": "Bars: calls per {minutes} minutes (average per minute).",
        "ru": "Столбцы: звонки за {minutes} мин (в среднем за минуту).",
    },
    "report.chart_limit": {
        "en": "Dashed line: the provider's points-per-minute limit.",
        "ru": "Пунктир: лимит баллов провайдера в минуту.",
    },
    "report.sheet_summary": {"en": "summary", "ru": "сводка"},
    "report.sheet_contacts": {"en": "contacts", "ru": "контакты"},
    "report.by_status": {"en": "By status", "ru": "По статусам"},
    "report.by_disposition": {
        "en": "Contacts by call result (latest known call)",
        "ru": "Контакты по итогу звонка (последний известный)",
    },
    "report.disposition": {"en": "call result", "ru": "итог звонка"},
    "report.dispositions_chart": {"en": "Call results", "ru": "Итоги звонков"},
    "report.dispositions_title": {
        "en": "Contacts by the result of their latest known call",
        "ru": "Контакты по итогу последнего известного звонка",
    },
    "report.no_outcomes": {
        "en": "No call results known yet.",
        "ru": "Итоги звонков ещё не известны.",
    },
    "report.answered_chart": {
        "en": "Answered rate over time",
        "ru": "Доля ответивших по времени",
    },
    "report.answered_title": {
        "en": "Share of calls answered, by when they were made",
        "ru": "Доля отвеченных звонков по времени звонка",
    },
    "report.answered_tip": {
        "en": "{at}: {percent:.0f}% of {known} calls answered",
        "ru": "{at}: ответили на {percent:.0f}% из {known} звонков",
    },
    "report.answered_legend": {
        "en": "Bars: share of the calls made in each {bucket} that were answered, "
        "of those whose result is known.",
        "ru": "Столбцы: доля отвеченных среди звонков с известным итогом, "
        "сделанных за каждый интервал «{bucket}».",
    },
    "bucket.1h": {"en": "hour", "ru": "час"},
    "bucket.1d": {"en": "day", "ru": "день"},
    "bucket.days": {"en": "{n} days", "ru": "{n} дн."},
    "report.by_error": {"en": "Failed, by error", "ru": "Ошибки по видам"},
    "report.none": {"en": "None.", "ru": "Нет."},
    "report.status": {"en": "status", "ru": "статус"},
    "report.error": {"en": "error", "ru": "ошибка"},
    "report.count": {"en": "contacts", "ru": "контактов"},
    "report.attention": {
        "en": "Contacts that need attention ({n})",
        "ru": "Контакты, требующие внимания ({n})",
    },
    "report.attention_none": {
        "en": "None: no failed or unconfirmed contacts.",
        "ru": "Нет: ни ошибок, ни неподтверждённых звонков.",
    },
    "report.attention_more": {
        "en": "The first {shown} of {n}; the CSV report has them all.",
        "ru": "Первые {shown} из {n}; в отчёте CSV есть все.",
    },
    "report.reason": {"en": "reason", "ru": "причина"},
    "report.phone": {"en": "phone", "ru": "телефон"},
    "report.tries": {"en": "attempts", "ru": "попыток"},
    "report.last_attempt": {"en": "last attempt", "ru": "последняя попытка"},
    "report.variables": {"en": "variables", "ru": "поля контакта"},
    "reason.unknown": {
        "en": "the request may have reached the provider; the call could not be confirmed "
        "either way, so it is not redialed",
        "ru": "запрос мог дойти до провайдера, но звонок не удалось ни подтвердить, "
        "ни опровергнуть, поэтому номер не набирается повторно",
    },
    "reason.failed": {"en": "the provider refused this number", "ru": "провайдер отклонил номер"},
    # `dialer campaign show` and the progress line of `dialer run`.
    "show.campaign": {"en": "Campaign: {name} ({method})", "ru": "Кампания: {name} ({method})"},
    "show.state": {"en": "State: {state}", "ru": "Состояние: {state}"},
    "show.paused_because": {"en": "Paused because: {reason}", "ru": "Причина паузы: {reason}"},
    "show.waiting": {"en": "Waiting: {reason}", "ru": "Ожидание: {reason}"},
    "show.waiting_until": {
        "en": "Waiting: {reason} until {until}",
        "ru": "Ожидание: {reason} до {until}",
    },
    "show.window": {
        "en": "waiting for the window at {at}",
        "ru": "ждёт окна звонков в {at}",
    },
    "show.window_opens": {
        "en": "Waiting: the calling window opens at {at}",
        "ru": "Ожидание: окно звонков откроется в {at}",
    },
    "show.results_awaited": {
        "en": "waiting for {n} call results from the provider's reports",
        "ru": "ждёт итогов {n} звонков из отчётов провайдера",
    },
    "show.results_awaited_line": {
        "en": "Waiting: {n} call results from the provider's reports",
        "ru": "Ожидание: итоги {n} звонков из отчётов провайдера",
    },
    "show.progress": {
        "en": "Progress: {done}/{total} ({percent:.1f}%)",
        "ru": "Выполнено: {done}/{total} ({percent:.1f}%)",
    },
    "show.progress_cancelled": {
        "en": "Progress: {done}/{total} ({percent:.1f}%) dialed before it was cancelled",
        "ru": "Выполнено: {done}/{total} ({percent:.1f}%) до отмены",
    },
    "show.no_contacts": {
        "en": "Progress: no contacts yet (add them with `dialer contacts import`)",
        "ru": "Выполнено: контактов пока нет (добавьте их: `dialer contacts import`)",
    },
    "show.counts": {"en": "Counts: {counts}", "ru": "Статусы: {counts}"},
    "show.answered": {
        "en": "Answered so far: {answered} (not answered {not_answered})",
        "ru": "Ответили: {answered} (не ответили {not_answered})",
    },
    "show.rate": {
        "en": "Calls per minute: {rate:.2f} (last {minutes:g} min)",
        "ru": "Звонков в минуту: {rate:.2f} (за {minutes:g} мин)",
    },
    "show.rate_measuring": {
        "en": "Calls per minute: measuring (under a minute of calls)",
        "ru": "Звонков в минуту: измеряется (звонков меньше минуты)",
    },
    "show.points": {
        "en": "Points left: {minute}/{minute_limit} this minute, {day}/{day_limit} today "
        "(as of {at})",
        "ru": "Осталось баллов: {minute}/{minute_limit} в эту минуту, {day}/{day_limit} сегодня "
        "(на {at})",
    },
    "show.points_guess": {
        "en": "Points left: {minute}/{minute_limit} this minute, {day}/{day_limit} today "
        "(the dialer's guess until the provider answers)",
        "ru": "Осталось баллов: {minute}/{minute_limit} в эту минуту, {day}/{day_limit} сегодня "
        "(оценка, пока провайдер не ответил)",
    },
    "show.eta": {"en": "Time to finish: {eta} ({basis})", "ru": "До конца: {eta} ({basis})"},
    "show.finish_at": {"en": "Finishes about {at}", "ru": "Закончится примерно в {at}"},
    "show.times_in": {"en": "Times in {zone}", "ru": "Время: {zone}"},
    "basis.done": {"en": "done", "ru": "готово"},
    "basis.rate": {"en": "at the recent rate", "ru": "по текущему темпу"},
    "basis.pace": {"en": "at the campaign's pace cap", "ru": "по ограничению темпа кампании"},
    "basis.budget": {"en": "at the points budget", "ru": "по бюджету баллов"},
    "basis.window": {"en": "calling windows included", "ru": "с учётом окон звонков"},
    "unit.d": {"en": "d", "ru": "д"},
    "unit.h": {"en": "h", "ru": "ч"},
    "unit.m": {"en": "m", "ru": "м"},
    "unit.s": {"en": "s", "ru": "с"},
    "show.tts_limit": {
        "en": "Text-to-speech texts: at most {limit} characters (named by the provider); "
        "longer ones fail without a request",
        "ru": "Тексты для синтеза речи: не длиннее {limit} символов (ограничение провайдера); "
        "более длинные не отправляются",
    },
    "list.none": {"en": "No campaigns.", "ru": "Кампаний нет."},
    "list.no_contacts": {"en": "no contacts", "ru": "нет контактов"},
    # The progress line of `dialer run` (`CampaignStatus.line`).
    "line.progress": {
        "en": "{name}: {state} {done}/{total} ({percent:.1f}%) placed {placed} "
        "answered {answered} not answered {not_answered} failed {failed} {rate}/min",
        "ru": "{name}: {state} {done}/{total} ({percent:.1f}%) звонков {placed} "
        "ответили {answered} не ответили {not_answered} ошибок {failed} {rate}/мин",
    },
    "line.points": {
        "en": " points {minute}/min {day}/day",
        "ru": " баллов {minute}/мин {day}/день",
    },
    "line.eta": {"en": " eta {eta}", "ru": " до конца {eta}"},
    # The CLI's summaries: `campaign create|start|pause|resume|cancel|requeue`, `contacts import`,
    # `dialer run`.
    "cli.created": {
        "en": "campaign {name!r} (id {id}) is a draft: {method}; contact columns used: {columns}",
        "ru": "кампания {name!r} (id {id}) создана как черновик: {method}; "
        "столбцы контактов: {columns}",
    },
    "cli.none": {"en": "none", "ru": "нет"},
    "cli.state": {"en": "{name}: {state}", "ru": "{name}: {state}"},
    "cli.requeued": {
        "en": "{n} contacts back to pending",
        "ru": "контактов возвращено в ожидание: {n}",
    },
    "cli.interrupted": {
        "en": "interrupted; campaign {name!r} is still running and nothing was lost: "
        "`dialer run {name}` continues it, `dialer campaign pause {name}` pauses it",
        "ru": "прервано; кампания {name!r} продолжает работать, ничего не потеряно: "
        "`dialer run {name}` продолжит её, `dialer campaign pause {name}` поставит на паузу",
    },
    "cli.run_stopped": {
        "en": "campaign {name} stopped: {why}",
        "ru": "кампания {name} остановлена: {why}",
    },
    "import.file": {
        "en": "{file} ({encoding}, delimiter {delimiter!r})",
        "ru": "{file} ({encoding}, разделитель {delimiter!r})",
    },
    "import.counts": {
        "en": "read {read}, imported {imported}, duplicates {duplicates}, "
        "blacklisted {blacklisted}, rejected {rejected}",
        "ru": "прочитано {read}, загружено {imported}, повторов {duplicates}, "
        "в чёрном списке {blacklisted}, отклонено {rejected}",
    },
    "import.rejects": {
        "en": "rows not imported, with line numbers and reasons: {path}",
        "ru": "незагруженные строки, с номерами строк и причинами: {path}",
    },
    "import.foreign": {
        "en": "warning: {n} number(s) of other countries than {countries}, e.g. {examples}; "
        "they will be called. If that is meant, list the countries in the campaign file: "
        "[contacts] countries = [{listed}, ...]",
        "ru": "внимание: номеров других стран, кроме {countries}: {n}, например {examples}; "
        "им будут звонить. Если так и задумано, перечислите страны в файле кампании: "
        "[contacts] countries = [{listed}, ...]",
    },
    "warn.no_window": {
        "en": "warning: campaign {name!r} has no [window]: contacts may be called at any hour, "
        'night included; add one to its file, e.g. [window] hours = ["09:00-21:00"]',
        "ru": "внимание: у кампании {name!r} нет [window]: звонки возможны в любое время, "
        'и ночью; добавьте окно в её файл, например [window] hours = ["09:00-21:00"]',
    },
    # `dialer call show`.
    "call.campaign": {
        "en": "Campaign: {name} ({state}, {method})",
        "ru": "Кампания: {name} ({state}, {method})",
    },
    "call.contact": {
        "en": "Contact: {phone}  status {status}  attempts {attempts}",
        "ru": "Контакт: {phone}  статус {status}  попыток {attempts}",
    },
    "call.error": {"en": "  error {error}", "ru": "  ошибка {error}"},
    "call.attempts": {
        "en": "Attempts ({n}; * = the one asked for):",
        "ru": "Попытки ({n}; * = запрошенная):",
    },
    "call.by_phone": {
        "en": "Every attempt to {phone}, newest first ({n}):",
        "ru": "Все попытки на номер {phone}, сначала новые ({n}):",
    },
    "call.replied": {"en": "  request answered at {at}", "ru": "  API ответил в {at}"},
    "call.picked_up": {"en": "picked up", "ru": "ответил"},
    "call.not_picked_up": {"en": "not picked up", "ru": "не ответил"},
    "call.outcome": {"en": "call result: {disposition}", "ru": "итог звонка: {disposition}"},
    "call.listened": {"en": "listened {seconds} s", "ru": "слушал {seconds} с"},
    "call.finished": {"en": "ended {at}", "ru": "завершён {at}"},
    "call.report_awaited": {
        "en": "call result: awaited from the provider's report",
        "ru": "итог звонка: ожидается из отчёта провайдера",
    },
    "call.report_found": {"en": "call result: reported", "ru": "итог звонка: получен"},
    "call.report_absent": {
        "en": "call result: no call was made (not in the provider's report)",
        "ru": "итог звонка: звонка не было (нет в отчёте провайдера)",
    },
    "call.report_expired": {
        "en": "call result: unknown (not in the provider's report in time)",
        "ru": "итог звонка: неизвестен (не появился в отчёте провайдера вовремя)",
    },
    # Errors a user sees.
    "error.no_dir": {
        "en": "cannot write {path}: the folder {folder} does not exist",
        "ru": "не удаётся записать {path}: папки {folder} нет",
    },
    "error.not_writable": {
        "en": "cannot write {path}: {reason}",
        "ru": "не удаётся записать {path}: {reason}",
    },
    "error.xlsx_stdout": {
        "en": "--format xlsx writes a file: give it with --output FILE.xlsx",
        "ru": "--format xlsx пишет файл: укажите его через --output ФАЙЛ.xlsx",
    },
    "error.no_call": {
        "en": "no call with external_id, call_session_id or phone {key!r}",
        "ru": "нет звонка с external_id, call_session_id или телефоном {key!r}",
    },
}


@dataclass(frozen=True)
class Texts:
    """The messages of one language: `texts("key", **fields)`."""

    lang: Lang = Lang.EN

    def __call__(self, key: str, /, **fields: object) -> str:
        """The message `key` in this language (English if it lacks one), filled with `fields`."""
        entry = MESSAGES[key]
        return entry.get(self.lang.value, entry["en"]).format(**fields)

    def status(self, status: str) -> str:
        """A contact status as a person reads it (unknown values as they are)."""
        return self._named("status", status)

    def disposition(self, disposition: str) -> str:
        """A call's disposition as a person reads it (unknown values as they are)."""
        return self._named("disposition", disposition)

    def outcome(self, outcome: str) -> str:
        """What one request came to, as a person reads it (unknown values as they are)."""
        return self._named("outcome", outcome)

    def state(self, state: str) -> str:
        """A campaign state as a person reads it (unknown values as they are)."""
        return self._named("state", state)

    def _named(self, kind: str, value: str) -> str:
        key = f"{kind}.{value}"
        return self(key) if key in MESSAGES else value
