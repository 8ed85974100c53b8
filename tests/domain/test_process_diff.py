"""What changed between two process versions, one line per setting."""

from domain.process import ProcessDefinition, ReviewRequirements
from domain.process_diff import ChangeKind, diff
from domain.roles import Role

BASE = ProcessDefinition.model_validate(
    {
        "sla": {"targets": {"P1": {"acknowledge": "15m", "resolve": "4h"}}},
        "escalation_policies": {
            "page": {
                "levels": [
                    {"targets": [{"channel": "ops"}], "delay": "10m"},
                    {"targets": [{"channel": "ops"}], "delay": "10m"},
                ]
            }
        },
        "escalation": {"P1": ["page"]},
    }
)


def test_the_same_sets_built_in_other_orders_are_no_change() -> None:
    roles = [Role.VIEWER, Role.ADMIN, Role.PROCESS_OWNER, Role.COMMANDER]
    one = BASE.model_copy(update={"review": ReviewRequirements(approver_roles=frozenset(roles))})
    other = BASE.model_copy(
        update={"review": ReviewRequirements(approver_roles=frozenset(reversed(roles)))}
    )

    assert diff(one, other) == []
    assert diff(ProcessDefinition.model_validate(one.model_dump(mode="json")), other) == []


def test_one_changed_level_is_one_line_and_new_settings_are_added() -> None:
    changed = BASE.model_dump(mode="json")
    changed["escalation_policies"]["page"]["levels"][1]["delay"] = "5m"
    changed["sla"]["targets"]["P2"] = {"acknowledge": "30m"}
    after = ProcessDefinition.model_validate(changed)

    changes = diff(BASE, after)

    assert [(c.path, c.kind) for c in changes] == [
        ("escalation_policies.page.levels.1.delay", ChangeKind.CHANGED),
        ("sla.targets.P2", ChangeKind.ADDED),
    ]
    assert changes[0].describe() == 'escalation_policies.page.levels.1.delay: "10m" -> "5m"'
