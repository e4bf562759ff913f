"""Recording audit events. Call these inside the transaction of the change they describe, so the change
and its record are written together or not at all."""

from __future__ import annotations

from typing import Any, Protocol

from backend.audit.tables import AuditEvent


class Actor(Protocol):
    """Who acts: any API caller (:class:`backend.workspaces.auth.Principal` is one)."""

    @property
    def workspace_id(self) -> int: ...

    @property
    def user_id(self) -> int | None: ...

    @property
    def credential_id(self) -> int: ...

    @property
    def label(self) -> str: ...


async def record(
    principal: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: object = "",
    data: dict[str, Any] | None = None,
) -> None:
    """An action taken by an API caller, in the caller's workspace."""
    await _insert(
        principal.workspace_id,
        action,
        actor_user=principal.user_id,
        actor_credential=principal.credential_id,
        actor_label=principal.label,
        target_type=target_type,
        target_id=target_id,
        data=data,
    )


async def record_system(
    workspace_id: int,
    action: str,
    *,
    actor_label: str,
    target_type: str = "",
    target_id: object = "",
    data: dict[str, Any] | None = None,
) -> None:
    """An action taken by Flowgate itself or an operator's command line, not by an API caller."""
    await _insert(
        workspace_id,
        action,
        actor_user=None,
        actor_credential=None,
        actor_label=actor_label,
        target_type=target_type,
        target_id=target_id,
        data=data,
    )


async def _insert(
    workspace_id: int,
    action: str,
    *,
    actor_user: int | None,
    actor_credential: int | None,
    actor_label: str,
    target_type: str,
    target_id: object,
    data: dict[str, Any] | None,
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            workspace=workspace_id,
            actor_user=actor_user,
            actor_credential=actor_credential,
            actor_label=actor_label,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            data=data or {},
        )
    )
