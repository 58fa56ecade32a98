# ruff: noqa: E501
# (expected messages are kept verbatim, one per line)
"""A corpus of broken bundles: each patches the shipped policies and must be reported with
exactly these ``file:line:col: path: message`` lines (all of them, sorted)."""

from __future__ import annotations

from pathlib import Path

import pytest

import rules
from rules.loader import FILES
from tests.rules.conftest import POLICIES

# (case, file, text to replace, replacement, expected issues)
CASES = [
    (
        "yaml_syntax",
        "points.yaml",
        "  counter: 1\n",
        "  counter: [1\n",
        [
            "points.yaml:12:1: YAML syntax error: expected ',' or ']', but got '?'",
        ],
    ),
    (
        "duplicate_key",
        "points.yaml",
        "  survey: 50\n",
        "  survey: 50\n  feedback: 30\n",
        [
            "points.yaml:21:3: events.feedback: duplicate key 'feedback' (first defined at line 19)",
        ],
    ),
    (
        "unknown_top_key",
        "segments.yaml",
        "points_tiers:\n",
        "point_tiers:\n",
        [
            "segments.yaml:7:1: missing required key 'points_tiers'",
            "segments.yaml:84:1: point_tiers: unknown key 'point_tiers' (did you mean 'points_tiers'?)",
        ],
    ),
    (
        "unknown_leaf_key",
        "segments.yaml",
        "op: gt, value: 60}",
        "op: gt, vaule: 60}",
        [
            "segments.yaml:62:41: tags.arrears_high_risk.when.any[1].vaule: unknown key 'vaule' (did you mean 'value'?)",
        ],
    ),
    (
        "misspelt_op",
        "segments.yaml",
        "{field: overdue_days, op: gt, value: 60}",
        "{field: overdue_days, op: gtr, value: 60}",
        [
            "segments.yaml:62:37: tags.arrears_high_risk.when.any[1].op: unknown op 'gtr' (did you mean 'gt'?); expected one of eq, ne, gt, gte, lt, lte, in, not_in, exists, missing",
        ],
    ),
    (
        "unknown_field",
        "segments.yaml",
        "{field: outage_complaints_12m, op: gte, value: 2}",
        "{field: outage_complaint_12m, op: gte, value: 2}",
        [
            "segments.yaml:54:19: tags.outage_sensitive.when.any[0].field: unknown field 'outage_complaint_12m' (did you mean 'outage_complaints_12m'?)",
        ],
    ),
    (
        "string_vs_number",
        "segments.yaml",
        "{field: late_payments_12m, op: gte, value: 3}",
        '{field: late_payments_12m, op: gte, value: "3"}',
        [
            "segments.yaml:61:54: tags.arrears_high_risk.when.any[0].value: type mismatch: number field 'late_payments_12m' compared with the string '3'",
        ],
    ),
    (
        "bool_vs_number",
        "segments.yaml",
        "{field: open_hazards, op: gte, value: 1}",
        "{field: open_hazards, op: gte, value: true}",
        [
            "segments.yaml:76:49: tags.safety_high_risk.when.any[0].value: type mismatch: number field 'open_hazards' compared with the boolean true",
        ],
    ),
    (
        "order_op_on_string",
        "segments.yaml",
        "{field: tariff, op: eq, value: residential}",
        "{field: tariff, op: gt, value: residential}",
        [
            "segments.yaml:30:33: category.rules[3].when.op: op 'gt' does not apply to str field 'tariff'",
        ],
    ),
    (
        "bad_enum_value",
        "segments.yaml",
        "value: A}\n        - {field: category, op: eq, value: important}",
        "value: A}\n        - {field: category, op: eq, value: importnt}",
        [
            "segments.yaml:49:44: tags.high_value.when.any[1].value: 'importnt' is not a possible value of 'category' (did you mean 'important'?); expected one of important, key_attention, large, residential, other",
        ],
    ),
    (
        "derived_cycle",
        "segments.yaml",
        "sum: [online_interactions_12m, offline_interactions_12m]",
        "sum: [online_share_12m, offline_interactions_12m]",
        [
            "segments.yaml:11:3: derived.interactions_12m: derived field cycle: interactions_12m -> online_share_12m -> interactions_12m",
        ],
    ),
    (
        "derived_unknown_operand",
        "segments.yaml",
        "ratio: [online_interactions_12m, interactions_12m]",
        "ratio: [online_interactions_12m, interaction_12m]",
        [
            "segments.yaml:14:38: derived.online_share_12m.ratio[1]: unknown field 'interaction_12m' (did you mean 'interactions_12m'?)",
        ],
    ),
    (
        "derived_unknown_function",
        "segments.yaml",
        "    ratio: [online_interactions_12m",
        "    rato: [online_interactions_12m",
        [
            "segments.yaml:14:5: derived.online_share_12m.rato: unknown key 'rato' (did you mean 'ratio'?)",
        ],
    ),
    (
        "category_rules_cannot_read_category",
        "segments.yaml",
        "{field: tariff, op: eq, value: residential}",
        "{field: category, op: eq, value: residential}",
        [
            "segments.yaml:30:21: category.rules[3].when.field: unknown field 'category'",
        ],
    ),
    (
        "empty_any",
        "segments.yaml",
        "    when:\n      any:\n        - {field: late_payments_12m, op: gte, value: 3}\n        - {field: overdue_days, op: gt, value: 60}\n",
        "    when:\n      any: []\n",
        [
            "segments.yaml:60:12: tags.arrears_high_risk.when.any: 'any' takes a non-empty list of conditions",
        ],
    ),
    (
        "exists_with_value",
        "segments.yaml",
        "{field: backup_power_compliant, op: eq, value: false}",
        "{field: backup_power_compliant, op: exists, value: false}",
        [
            "segments.yaml:81:59: tags.safety_high_risk.when.any[3].all[1].value: op 'exists' takes no value",
        ],
    ),
    (
        "in_needs_list",
        "segments.yaml",
        "op: in, value: [important, key_attention]",
        "op: in, value: important",
        [
            "segments.yaml:55:44: tags.outage_sensitive.when.any[1].value: op 'in' takes a non-empty list, got the string 'important'",
        ],
    ),
    (
        "literal_out_of_range",
        "segments.yaml",
        "{field: violations_24m, op: gte, value: 1}",
        "{field: violations_24m, op: gte, value: 0.00001}",
        [
            "segments.yaml:77:51: tags.safety_high_risk.when.any[1].value: number 1e-05 is out of range for conditions (use 0 or a magnitude between 0.0001 and 1e16)",
        ],
    ),
    (
        "abc_cuts_order",
        "segments.yaml",
        "    A: 0.05\n    B: 0.20",
        "    A: 0.25\n    B: 0.20",
        [
            "segments.yaml:39:8: abc.cuts.B: cut B (0.2) must be >= cut A (0.25): cuts are cumulative top fractions",
        ],
    ),
    (
        "abc_unknown_metric",
        "segments.yaml",
        "metric: annual_revenue",
        "metric: annual_revenu",
        [
            "segments.yaml:36:11: abc.metric: unknown field 'annual_revenu' (did you mean 'annual_revenue'?)",
        ],
    ),
    (
        "bad_duration_process",
        "processes.yaml",
        "  retry_after: P3D\n",
        "  retry_after: 3 days\n",
        [
            "processes.yaml:22:16: callback.retry_after: invalid ISO 8601 duration '3 days' (e.g. P3D, PT48H, P3M)",
        ],
    ),
    (
        "bad_duration_action",
        "strategies.yaml",
        "      callback_every: P3M\n",
        "      callback_every: P3Q\n",
        [
            "strategies.yaml:164:23: strategies[3].actions.callback_every: invalid ISO 8601 duration 'P3Q' (e.g. P3D, PT48H, P3M)",
        ],
    ),
    (
        "unknown_parameter",
        "strategies.yaml",
        "      callback_every: P3M\n",
        "      callbak_every: P3M\n",
        [
            "strategies.yaml:164:7: strategies[3].actions.callbak_every: unknown parameter 'callbak_every' (did you mean 'callback_every'?)",
        ],
    ),
    (
        "wrong_parameter_type",
        "strategies.yaml",
        "      response_sla_hours: 24\n",
        '      response_sla_hours: "24"\n',
        [
            "strategies.yaml:144:27: strategies[0].actions.response_sla_hours: parameter 'response_sla_hours' takes an integer, got '24'",
            "strategies.yaml:144:27: strategies[1].actions.response_sla_hours: parameter 'response_sla_hours' takes an integer, got '24'",
            "strategies.yaml:144:27: strategies[2].actions.response_sla_hours: parameter 'response_sla_hours' takes an integer, got '24'",
        ],
    ),
    (
        "unknown_tag_selector",
        "strategies.yaml",
        "applies_to: {tag: arrears_high_risk}",
        "applies_to: {tag: arrears_risk}",
        [
            "strategies.yaml:184:23: strategies[6].applies_to.tag: unknown tag 'arrears_risk' (did you mean 'arrears_high_risk'?)",
        ],
    ),
    (
        "unknown_channel_value",
        "strategies.yaml",
        "outage_notice_channels: [announcement, call_95598, sms, wechat]",
        "outage_notice_channels: [announcement, call_95598, sms, wechat, fax]",
        [
            "strategies.yaml:179:31: strategies[5].actions.outage_notice_channels: 'fax' is not an allowed value of 'outage_notice_channels'; expected one of announcement, call_95598, sms, wechat, app",
        ],
    ),
    (
        "combine_mismatch",
        "strategies.yaml",
        "    type: duration\n    combine: min\n    description: Phone call-back",
        "    type: duration\n    combine: any\n    description: Phone call-back",
        [
            "strategies.yaml:43:14: parameters.callback_every.combine: combine 'any' does not apply to duration parameters",
        ],
    ),
    (
        "unknown_process_link",
        "strategies.yaml",
        "  key_account_visit:\n    enabled_by",
        "  key_acount_visit:\n    enabled_by",
        [
            "strategies.yaml:231:3: processes.key_acount_visit: unknown process 'key_acount_visit' (did you mean 'key_account_visit'?)",
        ],
    ),
    (
        "process_enum",
        "processes.yaml",
        "    to_role: supervisor\n\nkey_account_visit",
        "    to_role: supervisor\n  trigger2: x\n\nkey_account_visit",
        [
            "processes.yaml:31:3: callback.trigger2: unknown key 'trigger2' (did you mean 'trigger'?)",
        ],
    ),
    (
        "trigger_enum",
        "processes.yaml",
        "callback:\n  trigger: segment",
        "callback:\n  trigger: segmnt",
        [
            "processes.yaml:11:12: callback.trigger: 'segmnt' is not one of segment, event (did you mean 'segment'?)",
        ],
    ),
    (
        "notice_days_order",
        "processes.yaml",
        "notice_min_days: 3, notice_max_days: 7",
        "notice_min_days: 8, notice_max_days: 7",
        [
            "processes.yaml:88:73: arrears.steps[5].notice_max_days: notice_max_days (7) must be >= notice_min_days (8)",
        ],
    ),
    (
        "calendar_date",
        "calendars.yaml",
        'to: "2026-02-23"',
        'to: "2026-02-30"',
        [
            "calendars.yaml:15:58: holidays[1].to: invalid date '2026-02-30'",
        ],
    ),
    (
        "calendar_window",
        "calendars.yaml",
        'end: "17:00"',
        'end: "07:00"',
        [
            "calendars.yaml:9:8: disconnection_window.end: end '07:00' must be after start '08:00'",
        ],
    ),
    (
        "points_no_zero_tier",
        "points.yaml",
        "{id: topup_small, min_amount: 0,",
        "{id: topup_small, min_amount: 10,",
        [
            "points.yaml:13:3: prepayment_tiers: one tier must have min_amount 0 so every top-up matches exactly one tier",
        ],
    ),
    (
        "missing_header",
        "calendars.yaml",
        "# yaml-language-server: $schema=./schema/calendars.schema.json\n",
        "",
        [
            "calendars.yaml:1:1: first line must be '# yaml-language-server: $schema=./schema/calendars.schema.json'",
        ],
    ),
    # typed process parameters (rules/process_params.py): what the schema cannot say
    (
        "hazard_zero_deadline",
        "processes.yaml",
        "    critical: P3D\n",
        "    critical: PT0S\n",
        [
            "processes.yaml:116:15: hazard.deadline.critical: critical must be longer than zero (got 'PT0S')",
        ],
    ),
    (
        "hazard_zero_task_due",
        "processes.yaml",
        "    assignee_role: inspector\n    due: P5D\n  rounds_before",
        "    assignee_role: inspector\n    due: P0D\n  rounds_before",
        [
            "processes.yaml:120:10: hazard.reinspection.due: due must be longer than zero (got 'P0D')",
        ],
    ),
    (
        "hazard_closed_loop_without_escalation",
        "processes.yaml",
        "  closed_loop: false\n  reinspection_escalation: {to_role: supervisor}\n",
        "  closed_loop: true\n",
        [
            "processes.yaml:124:16: hazard.closed_loop: closed_loop needs reinspection_escalation.to_role",
        ],
    ),
    (
        "hazard_reports_without_report_task",
        "processes.yaml",
        "  authority_report: {task: hazard_authority_report, assignee_role: supervisor, due: P3D}\n",
        "",
        [
            "processes.yaml:111:3: hazard: missing required key 'authority_report' (report_severities is set)",
        ],
    ),
    (
        "closure_without_theft_case_task",
        "processes.yaml",
        "  theft_case:\n    task: theft_case\n    assignee_role: inspector\n    due: P15D\n",
        "",
        [
            "processes.yaml:130:3: closure: missing required key 'theft_case'",
        ],
    ),
    (
        "closure_zero_task_due",
        "processes.yaml",
        "    assignee_role: agent\n    due: P5D\n\n# How the arrears-risk",
        "    assignee_role: agent\n    due: PT0M\n\n# How the arrears-risk",
        [
            "processes.yaml:148:10: closure.settlement.due: due must be longer than zero (got 'PT0M')",
        ],
    ),
    (
        "callback_zero_retry_after",
        "processes.yaml",
        "  retry_after: P3D\n",
        "  retry_after: PT0S\n",
        [
            "processes.yaml:22:16: callback.retry_after: retry_after must be longer than zero (got 'PT0S')",
        ],
    ),
    (
        "callback_zero_escalation",
        "processes.yaml",
        "    after: PT48H\n    to_role: supervisor\n\nkey_account_visit",
        "    after: P0D\n    to_role: supervisor\n\nkey_account_visit",
        [
            "processes.yaml:29:12: callback.escalation.after: after must be longer than zero (got 'P0D')",
        ],
    ),
    (
        "service_request_without_escalation",
        "processes.yaml",
        "  escalation:\n    after: PT24H\n    to_role: supervisor\n",
        "",
        [
            "processes.yaml:46:3: service_request: missing required key 'escalation'",
        ],
    ),
    (
        "visit_zero_period",
        "processes.yaml",
        "  visit_every: P1M\n",
        "  visit_every: PT0H\n",
        [
            "processes.yaml:35:16: key_account_visit.visit_every: visit_every must be longer than zero (got 'PT0H')",
        ],
    ),
    (
        "scheduled_zero_period",
        "processes.yaml",
        "  period: P6M\n  jitter: P7D\n",
        "  period: PT0S\n  jitter: P7D\n",
        [
            "processes.yaml:193:11: special_inspection.period: period must be longer than zero (got 'PT0S')",
        ],
    ),
    # typed outage and one-task parameters (rules/outage_params.py)
    (
        "outage_zero_lead",
        "processes.yaml",
        "  lead: P7D\n",
        "  lead: PT0S\n",
        [
            "processes.yaml:60:9: outage_notice.lead: lead must be longer than zero (got 'PT0S')",
        ],
    ),
    (
        "outage_negotiation_task_missing_while_strategies_switch_it",
        "processes.yaml",
        "  pre_negotiation:\n    task:\n      kind: outage_pre_negotiation\n      assignee_role: agent\n      due: P3D\n",
        "",
        [
            "processes.yaml:58:3: outage_notice: missing required key 'pre_negotiation' (a strategy may set pre_negotiation_required)",
        ],
    ),
    (
        "outage_satisfaction_zero_due",
        "processes.yaml",
        "      kind: outage_satisfaction_callback\n      assignee_role: agent\n      due: P3D\n",
        "      kind: outage_satisfaction_callback\n      assignee_role: agent\n      due: PT0H\n",
        [
            "processes.yaml:74:12: outage_notice.satisfaction_callback.task.due: due must be longer than zero (got 'PT0H')",
        ],
    ),
    (
        "plan_review_task_without_kind",
        "processes.yaml",
        "  task: {task: outage_plan_review, assignee_role: supervisor, due: P1D}\n",
        "  task: {assignee_role: supervisor, due: P1D}\n",
        [
            "processes.yaml:159:9: outage_plan_review.task: missing required key 'kind' (the task kind to open)",
        ],
    ),
    (
        "follow_up_zero_due",
        "processes.yaml",
        "    kind: service_follow_up\n    assignee_role: agent\n    due: P3D\n",
        "    kind: service_follow_up\n    assignee_role: agent\n    due: P0D\n",
        [
            "processes.yaml:167:10: service_follow_up.task.due: due must be longer than zero (got 'P0D')",
        ],
    ),
    (
        "missing_required",
        "points.yaml",
        "  survey: 50\n",
        "",
        [
            "points.yaml:19:3: events: missing required key 'survey'",
        ],
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_bundle(file: str, old: str, new: str, expected: list[str]) -> None:
    texts = {name: (POLICIES / name).read_text() for name in FILES}
    assert old in texts[file]
    texts[file] = texts[file].replace(old, new, 1)
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle_from_texts(texts)
    assert [str(issue) for issue in info.value.issues] == expected


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20


def test_unknown_and_missing_files() -> None:
    texts = {name: (POLICIES / name).read_text() for name in FILES}
    texts["strategy.yaml"] = texts.pop("strategies.yaml")
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle_from_texts(texts)
    assert [str(i) for i in info.value.issues] == [
        "strategies.yaml:1:1: missing policy file",
        "strategy.yaml:1:1: unknown policy file (did you mean 'strategies.yaml'?)",
    ]


def test_misnamed_file_in_a_directory(tmp_path: Path) -> None:
    for name in FILES:
        (tmp_path / name).write_text((POLICIES / name).read_text())
    (tmp_path / "points.yaml").rename(tmp_path / "points.yml")
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle(tmp_path)
    assert [str(i) for i in info.value.issues] == [
        f"{tmp_path}/points.yaml:1:1: missing policy file",
        f"{tmp_path}/points.yml:1:1: unknown policy file (did you mean 'points.yaml'?)",
    ]


def test_issue_format_from_a_directory(tmp_path: object) -> None:
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle("no/such/dir")
    assert str(info.value.issues[0]) == "no/such/dir:1:1: not a policy directory"


def test_several_issues_are_all_reported_sorted() -> None:
    texts = {name: (POLICIES / name).read_text() for name in FILES}
    texts["segments.yaml"] = (
        texts["segments.yaml"]
        .replace("op: gt, value: 60}", "op: gtr, value: 60}")
        .replace(
            "{field: open_hazards, op: gte, value: 1}", "{field: open_hazard, op: gte, value: 1}"
        )
    )
    texts["points.yaml"] = texts["points.yaml"].replace("survey: 50", "survey: lots")
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle_from_texts(texts)
    got = [str(i) for i in info.value.issues]
    assert got == sorted(got) and len(got) == 3
    assert got[0].startswith("points.yaml:20:11: events.survey: 'lots' is not of type 'integer'")
