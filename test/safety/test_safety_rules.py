"""The safety rules have one definition: the SafetyRule enum, the table in docs/safety_rules.md and every
`S<n>` cited in vla_ros/ name the same rules."""

from __future__ import annotations

import re
from pathlib import Path

from vla_ros.safety import SafetyRule

REPO = Path(__file__).resolve().parents[2]
RULES_DOC = REPO / "docs" / "safety_rules.md"
# A table row starts with the bold rule id and its short name: "| **S4** joint position limits | ...".
_TABLE_ROW = re.compile(r"^\|\s*\*\*(S\d+)\*\*\s*([^|]*?)\s*\|", re.MULTILINE)
_CITATION = re.compile(r"\bS\d+\b")
_SOURCE_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".txt"}


def _documented_rules() -> list[tuple[str, str]]:
    return _TABLE_ROW.findall(RULES_DOC.read_text(encoding="utf-8"))


def test_when_reading_the_rules_doc_expect_exactly_the_enum_members_in_order() -> None:
    documented = [rule_id for rule_id, _ in _documented_rules()]
    assert documented == [rule.value for rule in SafetyRule]


def test_when_reading_the_rules_doc_expect_each_row_named_as_the_enum_names_it() -> None:
    names = dict(_documented_rules())
    assert {rule.value: rule.short_name for rule in SafetyRule} == names


def test_when_listing_rules_expect_every_member_has_a_meaning() -> None:
    for rule in SafetyRule:
        assert rule.value == f"S{list(SafetyRule).index(rule) + 1}"
        assert rule.short_name and rule.meaning, rule


def test_when_scanning_vla_ros_sources_expect_every_cited_rule_is_an_enum_member() -> None:
    members = {rule.value for rule in SafetyRule}
    unknown: list[str] = []
    cited: set[str] = set()
    for path in sorted((REPO / "vla_ros").rglob("*")):
        if path.suffix not in _SOURCE_SUFFIXES or not path.is_file() or "__pycache__" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for rule_id in _CITATION.findall(line):
                cited.add(rule_id)
                if rule_id not in members:
                    unknown.append(f"{path.relative_to(REPO)}:{number}: {rule_id}")
    assert not unknown, "rules cited but not in SafetyRule / docs/safety_rules.md:\n" + "\n".join(unknown)
    assert cited, "the scan found no rule citation at all: is the pattern or the source tree wrong?"
