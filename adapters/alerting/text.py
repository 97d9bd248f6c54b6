from __future__ import annotations

from domain.alerts import Notice


def body(notice: Notice) -> str:
    """The one wording of a notice, for every channel."""
    lines = [notice.title, notice.detail] if notice.detail else [notice.title]
    lines.append(f"at {notice.at.isoformat()} (alert {notice.alert_id})")
    return "\n".join(lines)
