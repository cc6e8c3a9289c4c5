"""The message catalogue: every sentence a park's people read, in Simplified Chinese and English.

The gate board's labels, the rules in the gate officer's words (why a rule holds a truck, what
would release it, its name in an alert's headline) and the alerts' summaries, each written once
here and said through :func:`say` in the language of ``SENTINEL_LANGUAGE`` (``zh`` for the
jinshan parks, whose officers read Chinese; ``en``). The worker renders alerts in it (so
ClickHouse's ``alerts.message``, Alertmanager's summaries and the board agree), the board serves
its labels to the page, and the dispatcher builds the WeChat and webhook headlines from it
(deploy/alertmanager/templates/sentinel.tmpl only lays them out).

Not here: the evidence behind a decision (``decisions.reasons``, e.g. "no negative NAT sampled
within 48 h before entry"): the analysts' record, in English, as the rule set is; the board shows a
held truck's rules in these words instead. And the CLI's and the logs' English, for operators.
"""

from __future__ import annotations

import string
from typing import Literal, get_args

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

# key -> {language: text}; ``{name}`` marks what the caller fills in (str.format).
CATALOGUE: dict[str, dict[Language, str]] = {
    # -- the rules, in the gate officer's words: a short name (alert headlines), why a rule
    #    holds a truck, and what would release it.
    "rule.nat_48h.name": {"en": "no NAT within 48 h", "zh": "缺少48小时内核酸阴性证明"},
    "rule.nat_48h.why": {
        "en": "no negative NAT sampled within 48 h",
        "zh": "无48小时内采样的核酸阴性证明",
    },
    "rule.nat_48h.release": {
        "en": "an on-site antigen test, negative",
        "zh": "现场抗原检测阴性",
    },
    "rule.antigen_on_site.name": {"en": "on-site antigen missing", "zh": "现场抗原未检"},
    "rule.antigen_on_site.why": {"en": "no on-site antigen result yet", "zh": "尚无现场抗原结果"},
    "rule.antigen_on_site.release": {
        "en": "the on-site antigen test of the crew",
        "zh": "司乘人员现场抗原检测",
    },
    "rule.health_code.name": {"en": "health code not green", "zh": "健康码非绿码"},
    "rule.health_code.why": {"en": "a health code is not green", "zh": "有人健康码非绿码"},
    "rule.health_code.release": {
        "en": "turn away; call the park's health office",
        "zh": "劝返，并联系园区防疫办",
    },
    "rule.risk_area.name": {"en": "from a risk area", "zh": "来自风险地区"},
    "rule.risk_area.why": {"en": "comes from a risk area", "zh": "来自风险地区"},
    "rule.risk_area.release": {
        "en": "turn away, or the park's exemption",
        "zh": "劝返，或园区特许",
    },
    "rule.pass.name": {"en": "no pass", "zh": "无通行证"},
    "rule.pass.why": {"en": "no pass for an out-of-area vehicle", "zh": "外地车辆无通行证"},
    "rule.pass.release": {"en": "the vehicle's pass", "zh": "车辆通行证"},
    "rule.appointment.name": {"en": "no appointment", "zh": "无预约"},
    "rule.appointment.why": {"en": "no appointment", "zh": "无预约"},
    "rule.appointment.release": {
        "en": "an appointment by the receiving enterprise",
        "zh": "收货企业预约",
    },
    "rule.gate_class.name": {"en": "wrong gate", "zh": "走错闸口"},
    "rule.gate_class.why": {
        "en": "hazmat vehicle at a gate not for hazmat",
        "zh": "危化品车辆走了非危化品闸口",
    },
    "rule.gate_class.release": {"en": "send it to a hazmat gate", "zh": "引导至危化品闸口"},
    "rule.escort_on_board.name": {"en": "no escort", "zh": "无押运员"},
    "rule.escort_on_board.why": {"en": "no escort on board", "zh": "车上无押运员"},
    "rule.escort_on_board.release": {"en": "an escort on board", "zh": "押运员随车"},
    "rule.waybill.name": {"en": "no waybill", "zh": "无电子运单"},
    "rule.waybill.why": {"en": "no electronic waybill", "zh": "无电子运单"},
    "rule.waybill.release": {"en": "the waybill from the consignor", "zh": "托运方提供运单"},
    "rule.on_roster.name": {"en": "not on the roster", "zh": "人员不在名单"},
    "rule.on_roster.why": {
        "en": "someone on board is not on the roster",
        "zh": "车上有人不在人员名单上",
    },
    "rule.on_roster.release": {"en": "call the consignee to confirm", "zh": "联系收货方确认"},
    "rule.no_positive.name": {"en": "positive test", "zh": "检测阳性"},
    "rule.no_positive.why": {"en": "a positive test", "zh": "检测结果阳性"},
    "rule.no_positive.release": {
        "en": "deny entry; the health office is paged",
        "zh": "禁止入园；已通知防疫办",
    },
    "rule.health_visits.name": {"en": "health visits overdue", "zh": "健康随访逾期"},
    "rule.health_visits.why": {"en": "health visits owed", "zh": "健康随访未完成"},
    "rule.health_visits.release": {
        "en": "the receiving enterprise's visits",
        "zh": "收货企业完成随访",
    },
    "rule.evasion.name": {"en": "seen at another gate", "zh": "逃避查验（在其他闸口出现）"},
    "rule.evasion.why": {"en": "seen at another gate", "zh": "已在其他闸口被拦"},
    "rule.evasion.release": {"en": "check the vehicle; call the park", "zh": "核查车辆，联系园区"},
    "rule.dwell.name": {"en": "on site past the cap", "zh": "园区停留超时"},
    "rule.dwell.why": {"en": "on site past the cap", "zh": "园区停留超时"},
    "rule.dwell.release": {"en": "escort the vehicle out", "zh": "引导车辆离园"},
    "rule.gate_wait.name": {"en": "waiting too long at the gate", "zh": "闸口等候超时"},
    "rule.gate_wait.why": {"en": "waiting too long at the gate", "zh": "闸口等候超时"},
    "rule.gate_wait.release": {
        "en": "decide: test on site, or turn away",
        "zh": "尽快处置：现场检测或劝返",
    },
    # alerts that are not a rule of the set
    "rule.resolution_refused.name": {"en": "release refused", "zh": "放行被拒"},
    "rule.contact_trace.name": {"en": "contacts to trace", "zh": "密接追踪"},
    # a hold with no rule failed: a rule waits for its evidence
    "pending.why": {
        "en": "evidence not in yet (a test result, a lab report)",
        "zh": "证据未到（检测结果、核酸报告）",
    },
    "pending.release": {"en": "the result, when it arrives", "zh": "等待结果"},
    # -- alerts' summaries (ClickHouse alerts.message, Alertmanager's summary, the board)
    "alert.positive_nat": {
        "en": "positive NAT from lab {lab}, sampled {sampled}: isolate; contacts traced at every "
        "park the person entered",
        "zh": "检测机构 {lab} 报告核酸阳性（{sampled} 采样）：立即隔离；已在其到过的各园区追踪密接",
    },
    "alert.positive": {
        "en": "positive {test} result (taken at {site}) for an occupant{vehicles}: isolate; "
        "contacts traced",
        "zh": "{vehicles}车上人员{test}阳性（{site} 检测）：立即隔离；已追踪密接",
    },
    "alert.positive.vehicles": {"en": " of {vehicles}", "zh": "{vehicles} "},
    "alert.positive_released": {
        "en": "positive {test} for a person let in on {plate} at gate {gate} (entry {entry}, "
        "{entered}): {where}; isolate the crew, find the vehicle, trace its contacts",
        "zh": "{plate}（闸口 {gate}，入园记录 {entry}，{entered} 放行）车上人员{test}阳性："
        "{where}；立即隔离车上人员，找到车辆，追踪密接",
    },
    "alert.positive_released.inside": {
        "en": "the vehicle is inside the park now",
        "zh": "车辆仍在园区内",
    },
    "alert.positive_released.left": {
        "en": "the vehicle left at {left}",
        "zh": "车辆已于 {left} 离园",
    },
    "test.nat": {"en": "NAT", "zh": "核酸"},
    "test.antigen": {"en": "antigen", "zh": "抗原"},
    "alert.trace": {
        "en": "positive {test} for a person on {entries} entries here{let_in}: trace {people} "
        "co-occupants and {vehicles} vehicles through the same gates (ClickHouse table contacts, "
        "trace {key})",
        "zh": "本园区 {entries} 次入园记录中有人{test}阳性{let_in}："
        "追踪 {people} 名同车人员和同闸口的 {vehicles} 辆车（ClickHouse 表 contacts，追踪 {key}）",
    },
    "alert.trace.let_in": {
        "en": ", {released} of them let in",
        "zh": "（其中 {released} 次已放行）",
    },
    "alert.release_refused": {
        "en": "officer {officer} tried to release {plate} at gate {gate}: refused ({why})",
        "zh": "值班员 {officer} 试图在闸口 {gate} 放行 {plate}：被拒（{why}）",
    },
    "alert.gate_wait": {
        "en": "held at gate {gate} for over {minutes} min: {why}",
        "zh": "在闸口 {gate} 等候超过 {minutes} 分钟：{why}",
    },
    "alert.dwell_overdue": {
        "en": "no exit {cap} h after entry",
        "zh": "入园 {cap} 小时后仍未离园",
    },
    "alert.dwell_at_exit": {
        "en": "inside for {stayed} h, over the {cap} h cap",
        "zh": "在园 {stayed} 小时，超过 {cap} 小时上限",
    },
    "alert.visits": {
        "en": "enterprise {enterprise}: {made} of {required} health visits made by the deadline",
        "zh": "企业 {enterprise}：期限内完成健康随访 {made} 次，应为 {required} 次",
    },
    "alert.rule": {"en": "{why}: {todo}", "zh": "{why}：{todo}"},
    # -- alert headlines (Alertmanager annotations, laid out by the WeChat template)
    "severity.critical": {"en": "CRITICAL", "zh": "紧急"},
    "severity.warning": {"en": "warning", "zh": "提醒"},
    "severity.info": {"en": "info", "zh": "通知"},
    "page.firing": {
        "en": "[{severity}] {name}, park {park}",
        "zh": "【{severity}】{name}，园区 {park}",
    },
    "page.resolved": {
        "en": "[RESOLVED] {name}, park {park}",
        "zh": "【已解除】{name}，园区 {park}",
    },
    "page.enterprise": {"en": ", enterprise {enterprise}", "zh": "，企业 {enterprise}"},
    "page.line": {"en": "{gate}{subject}: {summary}", "zh": "{gate}{subject}：{summary}"},
    "page.gate": {"en": "gate {gate}, ", "zh": "闸口 {gate}，"},
    "page.since": {"en": " (since {time})", "zh": "（{time} 起）"},
    "page.ended": {"en": " (ended {time})", "zh": "（已于 {time} 解除）"},
    # -- the gate board's labels (the page fills in its own {names})
    "board.title": {"en": "Gate Sentinel — gate board", "zh": "门卫哨兵 — 闸口看板"},
    "board.today": {"en": "today, {day}", "zh": "今日 {day}"},
    "board.latest_day": {"en": "latest day with entries, {day}", "zh": "最近有入园的一天 {day}"},
    "board.live": {"en": "live, {time} (Shanghai time)", "zh": "实时 {time}（北京时间）"},
    "board.as_of": {"en": "as of {time} (Shanghai time)", "zh": "截至 {time}（北京时间）"},
    "board.entries": {"en": "entries", "zh": "入园车次"},
    "board.versus_peak": {"en": "of the {peak} peak ({date})", "zh": "峰值 {peak}（{date}）"},
    "board.held_now": {"en": "held now", "zh": "当前拦停"},
    "board.positives_today": {"en": "positives today", "zh": "今日阳性"},
    "board.red_codes_today": {"en": "red codes today", "zh": "今日红码"},
    "board.overdue_visits": {"en": "overdue health visits", "zh": "逾期健康随访"},
    "board.inside_now": {"en": "inside the park", "zh": "在园车辆"},
    "board.total_entries": {"en": "entries, all days", "zh": "累计入园车次"},
    "board.held_title": {"en": "Held at the gates", "zh": "闸口拦停车辆"},
    "board.held_at": {"en": "Held at {gate}", "zh": "{gate} 拦停车辆"},
    "board.held_count": {"en": ": {count} held", "zh": "：拦停 {count} 辆"},
    "board.none": {"en": "none", "zh": "无"},
    "board.waiting": {
        "en": " waiting {waited} (since {time})",
        "zh": " 已等候 {waited}（{time} 起）",
    },
    "board.hours_minutes": {"en": "{hours} h {minutes} min", "zh": "{hours} 小时 {minutes} 分"},
    "board.minutes": {"en": "{minutes} min", "zh": "{minutes} 分钟"},
    "board.needs": {"en": "needs: {what}", "zh": "放行需要：{what}"},
    "board.resolve": {"en": "resolve…", "zh": "处置…"},
    "board.action.released_after_check": {
        "en": "release after a manual check",
        "zh": "人工核查后放行",
    },
    "board.action.denied": {"en": "deny", "zh": "禁止入园"},
    "board.action.turned_away": {"en": "turned away", "zh": "已劝返"},
    "board.staff_id": {"en": "staff id", "zh": "工号"},
    "board.password": {"en": "operator password", "zh": "操作密码"},
    "board.reason": {"en": "why", "zh": "原因"},
    "board.resolve_button": {"en": "Resolve", "zh": "提交"},
    "board.sent": {"en": "sent; the queue follows its decision", "zh": "已提交；队列随判定更新"},
    "board.critical": {"en": "CRITICAL {time}: {message}", "zh": "紧急 {time}：{message}"},
    "board.at_gate": {"en": " at {gate}", "zh": "，闸口 {gate}"},
    "board.your_staff_id": {"en": "your staff id", "zh": "您的工号"},
    "board.acknowledge": {"en": "Acknowledge", "zh": "确认收到"},
    "board.acknowledged_by": {"en": " (acknowledged by {officer})", "zh": "（{officer} 已确认）"},
    "board.alerts": {"en": "Alerts, criticals first", "zh": "告警（紧急在前）"},
    "board.column.time": {"en": "time", "zh": "时间"},
    "board.column.severity": {"en": "severity", "zh": "级别"},
    "board.column.gate": {"en": "gate", "zh": "闸口"},
    "board.column.plate": {"en": "plate", "zh": "车牌"},
    "board.column.what": {"en": "what", "zh": "内容"},
    "board.column.entry_time": {"en": "entry time", "zh": "入园时间"},
    "board.column.outcome": {"en": "outcome", "zh": "判定"},
    "board.column.why": {"en": "why", "zh": "原因"},
    "board.column.entered": {"en": "entered", "zh": "入园"},
    "board.column.inside_for": {"en": "inside for", "zh": "已在园"},
    "board.column.cap": {"en": "cap", "zh": "上限"},
    "board.column.enterprise": {"en": "enterprise", "zh": "企业"},
    "board.column.overdue": {"en": "overdue", "zh": "逾期"},
    "board.recent": {"en": "Recent decisions", "zh": "最近判定"},
    "board.all_passed": {"en": "all rules passed", "zh": "全部通过"},
    "board.inside_title": {
        "en": "Inside the park, nearest the cap first",
        "zh": "在园车辆（临近上限在前）",
    },
    "board.no_cap": {"en": "–", "zh": "–"},
    "board.over_cap": {"en": "over the cap", "zh": "已超时"},
    "board.visits_title": {"en": "Overdue health visits by enterprise", "zh": "各企业逾期健康随访"},
    "board.outcome.release": {"en": "release", "zh": "放行"},
    "board.outcome.hold": {"en": "hold", "zh": "拦停"},
    "board.outcome.deny": {"en": "deny", "zh": "禁止"},
    "board.stale": {
        "en": "ClickHouse has not answered since {since}: the figures and queues are those of {at}",
        "zh": "ClickHouse 自 {since} 起无响应：数字和队列为 {at} 的数据",
    },
    "board.never": {"en": "never", "zh": "无"},
    "board.status": {
        "en": "from the worker at {time} (this screen's clock)",
        "zh": "数据来自 worker，{time}（本屏时钟）",
    },
    "board.cannot_show": {"en": "cannot show the board: {error}", "zh": "无法显示看板：{error}"},
    "board.cannot_reach": {
        "en": "cannot reach the worker: {error}",
        "zh": "无法连接 worker：{error}",
    },
    "board.interrupted": {
        "en": "the worker's stream is interrupted; reading it every second meanwhile",
        "zh": "推送中断；暂时每秒读取一次",
    },
    "board.connecting": {"en": "connecting…", "zh": "连接中…"},
}


class UnknownWords(KeyError):
    """A key the catalogue does not hold: a programming error, caught by the unit tests."""


def say(language: Language, key: str, /, **values: object) -> str:
    """The catalogue's ``key`` in ``language``, with ``values`` filled in."""
    try:
        text = CATALOGUE[key][language]
    except KeyError:
        raise UnknownWords(f"{key} in {language}") from None
    return text.format(**values) if values else text


def rule_words(language: Language, rule: str, part: Literal["name", "why", "release"]) -> str:
    """A rule's name, why it holds a truck, or what would release it; a rule the catalogue does
    not know (a park's own) is named by its id, with nothing to say of release."""
    key = f"rule.{rule}.{part}"
    if key in CATALOGUE:
        return say(language, key)
    return rule if part != "release" else ""


def board_labels(language: Language) -> dict[str, str]:
    """The board page's labels, for it to fill in (``{name}`` kept as written)."""
    return {
        key: texts[language]
        for key, texts in CATALOGUE.items()
        if key.startswith(("board.", "rule.", "severity.", "pending."))
    }


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
