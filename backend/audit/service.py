"""Recording audit events. Call :func:`record` inside the transaction of the change it describes, so the
change and its record are written together or not at all."""

from __future__ import annotations

from typing import Any

from backend.audit.tables import AuditEvent
from backend.workspaces.auth import Principal


async def record(
    principal: Principal | None,
    workspace_id: int,
    action: str,
    *,
    target_type: str = "",
    target_id: object = "",
    data: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            workspace=workspace_id,
            actor_user=principal.user_id if principal else None,
            actor_credential=principal.credential_id if principal else None,
            actor_label=actor_label or (principal.label if principal else "system"),
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            data=data or {},
        )
    )
