"""The UI's only way to the backend: a small async client for Flowgate's HTTP API.

The ui process never opens the database; every page reads and writes through the API, exactly like an
integrator would, so the API stays the single place where rules (roles, validation, the consent gate)
are enforced.

One ``httpx.AsyncClient`` serves the whole process (a new client per request costs a TCP handshake and
measured ~15x slower). Many browser sessions share that client, so the caller's token is passed with
each request as a header and never stored on the client itself. Responses become either decoded JSON or
one of two exceptions: :class:`ApiError` for an answer the API gave on purpose (4xx/5xx with Flowgate's
error body) and :class:`BackendUnreachable` when no answer came at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypedDict

import httpx

log = logging.getLogger(__name__)

# A page waits for the API before it is sent to the browser, and NiceGUI gives a page a few seconds to
# build: fail fast on a dead API instead of hanging until the page itself times out.
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
PREVIEW_TIMEOUT = httpx.Timeout(65.0, connect=2.0)
DOWNLOAD_TIMEOUT = httpx.Timeout(120.0, connect=2.0)
"""A report of a large campaign is streamed for a while; the page's own timeout does not apply to it."""
"""A preview step may run an HTTP request node, which may take up to 60 s (its longest timeout)."""


class ApiError(Exception):
    """The API answered with an error: its status, its sentence for people, and per-field problems."""

    def __init__(
        self,
        status: int,
        detail: str,
        field_errors: dict[str, str] | None = None,
        *,
        code: str = "",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.field_errors = field_errors or {}
        """First message per field, keyed by the field name the API used (e.g. ``"email"``)."""
        self.code = code
        self.retry_after = retry_after
        """Seconds until a rate limit resets, when the API said so."""


class BackendUnreachable(Exception):
    """No answer from the API at all: connection refused, DNS failure or timeout."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class WorkspaceInfo(TypedDict):
    id: int
    name: str
    created_at: str


class UserInfo(TypedDict):
    id: int
    email: str
    name: str
    role: str
    created_at: str


class LoginResult(TypedDict):
    token: str
    expires_at: str
    user: UserInfo
    workspace: WorkspaceInfo


class MeResult(TypedDict):
    workspace: WorkspaceInfo
    role: str
    user: UserInfo | None
    credential: dict[str, str]


class WorkspaceSettings(TypedDict):
    marketing_unsubscription_days: int


class FlowSummary(TypedDict):
    id: int
    name: str
    status: str
    """``draft`` (never published), ``published`` (the draft is the latest version), ``draft_ahead``."""
    revision: int
    latest_version: int | None
    trigger: str
    created_at: str
    updated_at: str


class FlowInfo(FlowSummary):
    graph: dict[str, Any]


class FlowPage(TypedDict):
    items: list[FlowSummary]
    next_cursor: str | None


class ProblemInfo(TypedDict):
    node_id: str | None
    code: str
    message: str
    field: str


class ValidationResult(TypedDict):
    valid: bool
    errors: list[ProblemInfo]


class PublishResult(TypedDict):
    flow_id: int
    version: int
    published_at: str
    created: bool
    """False when the draft was unchanged since the latest version (that version is returned)."""


class VersionSummary(TypedDict):
    number: int
    trigger: str
    published_at: str
    published_by: str


class VersionInfo(VersionSummary):
    flow_id: int
    graph: dict[str, Any]


class PreviewInfo(TypedDict):
    """``GET /api/v1/previews/{id}``: see ``backend/previews/schemas.py`` (PreviewOut) for every field."""

    id: str
    flow_id: int
    version: int
    status: str
    active_node: str | None
    waiting: dict[str, Any] | None
    transcript: list[dict[str, Any]]
    path: list[dict[str, Any]]
    variables: dict[str, Any]
    contact: dict[str, Any]
    clock: str


class NamedRef(TypedDict):
    """What pickers need of a group or a marketing category."""

    id: int
    name: str


class EveryInfo(TypedDict):
    unit: str
    """``minute``, ``hour`` or ``day``."""
    count: int


class CampaignInfo(TypedDict):
    """``GET /api/v1/campaigns/{id}``: see ``backend/campaigns/schemas.py`` (CampaignOut)."""

    id: int
    name: str
    description: str
    flow_id: int
    flow_version: int | None
    group_id: int
    sender_id: int
    channel: str
    category_id: int | None
    kind: str
    start_at: str
    end_at: str
    every: EveryInfo
    plan: str
    planned_triggers: int
    opted_in_only: bool
    allow_reentry: bool
    status: str
    next_trigger_at: str | None
    last_trigger_at: str | None
    triggers_fired: int
    started_at: str | None
    ended_at: str | None
    created_at: str
    updated_at: str


class CampaignPage(TypedDict):
    items: list[CampaignInfo]
    next_cursor: str | None


class ExcludedCounts(TypedDict):
    opted_out: int
    no_address: int
    already_entered: int


class AudienceInfo(TypedDict):
    group_id: int
    channel: str
    members: int
    eligible: int
    excluded: ExcludedCounts
    opt_out_filter_applied: bool


class CampaignPreview(TypedDict):
    """What a campaign form would do if saved now: the plan in words and who it would reach."""

    plan: str | None
    planned_triggers: int | None
    audience: AudienceInfo | None
    errors: list[dict[str, str]]


class CampaignStats(TypedDict):
    """``GET /api/v1/campaigns/{id}/stats`` and the live feed's ``data``: see StatsOut."""

    campaign_id: int
    status: str
    flow_version: int | None
    totals: dict[str, int]
    nodes: dict[str, dict[str, int]]
    edges: list[dict[str, Any]]
    failures: dict[str, int]
    per_minute: list[dict[str, Any]]
    updated_at: str


class SenderRef(TypedDict):
    """What pickers need of a sender."""

    id: int
    name: str
    channel: str
    provider: str
    address: str


@dataclass
class BackendClient:
    """The process-wide API client; :func:`start` and :func:`close` follow the ui app's lifespan."""

    base_url: str = "http://127.0.0.1:8000"
    _client: httpx.AsyncClient | None = field(default=None, repr=False)

    def configure(self, base_url: str) -> None:
        """Set the API's address; takes effect when the client is (re)started."""
        self.base_url = base_url.rstrip("/")

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=TIMEOUT,
                headers={"Accept": "application/json", "User-Agent": "flowgate-ui"},
                follow_redirects=False,
            )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        http_timeout: httpx.Timeout | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON body (``None`` for 204)."""
        if self._client is None:  # a call before start-up, e.g. from a script: create it lazily
            await self.start()
        assert self._client is not None
        request_headers = dict(headers or {})
        if token:
            request_headers["Authorization"] = f"Bearer {token}"
        try:
            response = await self._client.request(
                method,
                path,
                json=json,
                params={key: value for key, value in (params or {}).items() if value is not None},
                headers=request_headers,
                timeout=http_timeout or TIMEOUT,
            )
        except httpx.TransportError as exc:
            raise BackendUnreachable(self.base_url, type(exc).__name__) from exc
        return _decode(response)

    # --- the endpoints the UI uses --------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """``/health``; a 503 (database or Redis down) raises :class:`ApiError` like any other error."""
        return await self.request("GET", "/health")

    async def login(self, email: str, password: str, *, client_ip: str | None = None) -> LoginResult:
        # Every browser's login reaches the API from this one process; forwarding the browser's address
        # lets the API rate-limit each person instead of the whole UI (it trusts this header from
        # loopback only, the uvicorn default).
        headers = {"X-Forwarded-For": client_ip} if client_ip else None
        return await self.request(
            "POST", "/api/v1/auth/login", json={"email": email, "password": password}, headers=headers
        )

    async def me(self, token: str) -> MeResult:
        return await self.request("GET", "/api/v1/auth/me", token=token)

    async def logout(self, token: str) -> None:
        await self.request("POST", "/api/v1/auth/logout", token=token)

    async def get_settings(self, token: str) -> WorkspaceSettings:
        return await self.request("GET", "/api/v1/settings", token=token)

    async def update_settings(self, token: str, changes: dict[str, Any]) -> WorkspaceSettings:
        return await self.request("PATCH", "/api/v1/settings", token=token, json=changes)

    async def get_flow(self, token: str, flow_id: int) -> FlowInfo:
        return await self.request("GET", f"/api/v1/flows/{flow_id}", token=token)

    async def save_flow_draft(
        self,
        token: str,
        flow_id: int,
        *,
        revision: int,
        graph: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> FlowInfo:
        """Replace the draft's graph and/or name; a 409 :class:`ApiError` means someone saved since
        ``revision`` was loaded."""
        body: dict[str, Any] = {"revision": revision}
        if graph is not None:
            body["graph"] = graph
        if name is not None:
            body["name"] = name
        return await self.request("PUT", f"/api/v1/flows/{flow_id}", token=token, json=body)

    async def list_flows(
        self, token: str, *, name: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> FlowPage:
        return await self.request(
            "GET", "/api/v1/flows", token=token, params={"name": name, "cursor": cursor, "limit": limit}
        )

    async def create_flow(self, token: str, name: str, graph: dict[str, Any] | None = None) -> FlowInfo:
        """A new flow; without ``graph`` it starts with a single start node."""
        body: dict[str, Any] = {"name": name}
        if graph is not None:
            body["graph"] = graph
        return await self.request("POST", "/api/v1/flows", token=token, json=body)

    async def delete_flow(self, token: str, flow_id: int) -> None:
        await self.request("DELETE", f"/api/v1/flows/{flow_id}", token=token)

    async def validate_flow(
        self, token: str, flow_id: int, graph: dict[str, Any] | None = None
    ) -> ValidationResult:
        """Problems of ``graph`` (e.g. the editor's unsaved state), or of the saved draft without it."""
        return await self.request(
            "POST",
            f"/api/v1/flows/{flow_id}/validate",
            token=token,
            json={"graph": graph} if graph is not None else None,
        )

    async def publish_flow(self, token: str, flow_id: int, *, revision: int) -> PublishResult:
        """Freeze the draft at ``revision``; 422 :class:`ApiError` lists the problems, 409 a newer draft."""
        return await self.request(
            "POST", f"/api/v1/flows/{flow_id}/publish", token=token, json={"revision": revision}
        )

    async def list_versions(self, token: str, flow_id: int) -> list[VersionSummary]:
        """Published versions, newest first."""
        return await self.request("GET", f"/api/v1/flows/{flow_id}/versions", token=token)

    async def get_version(self, token: str, flow_id: int, number: int) -> VersionInfo:
        return await self.request("GET", f"/api/v1/flows/{flow_id}/versions/{number}", token=token)

    async def start_preview(
        self,
        token: str,
        flow_id: int,
        *,
        version: int | None = None,
        contact: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> PreviewInfo:
        """Walk a published version (the latest without ``version``) as a test contact."""
        body: dict[str, Any] = {"flow_id": flow_id, "version": version, "seed": seed}
        if contact is not None:
            body["contact"] = contact
        return await self.request(
            "POST", "/api/v1/previews", token=token, json=body, http_timeout=PREVIEW_TIMEOUT
        )

    async def get_preview(self, token: str, preview_id: str) -> PreviewInfo:
        return await self.request("GET", f"/api/v1/previews/{preview_id}", token=token)

    async def reply_preview(
        self, token: str, preview_id: str, *, text: str | None = None, button_id: str | None = None
    ) -> PreviewInfo:
        """Answer as the test contact: exactly one of a typed ``text`` or a tapped ``button_id``."""
        return await self.request(
            "POST",
            f"/api/v1/previews/{preview_id}/reply",
            token=token,
            json={"text": text, "button_id": button_id},
            http_timeout=PREVIEW_TIMEOUT,
        )

    async def skip_wait_preview(self, token: str, preview_id: str) -> PreviewInfo:
        return await self.request(
            "POST", f"/api/v1/previews/{preview_id}/skip-wait", token=token, http_timeout=PREVIEW_TIMEOUT
        )

    async def list_groups(self, token: str) -> list[NamedRef]:
        return await self._all(token, "/api/v1/groups")

    async def list_categories(self, token: str) -> list[NamedRef]:
        return await self._all(token, "/api/v1/marketing-categories")

    async def list_senders(self, token: str) -> list[SenderRef]:
        return await self._all(token, "/api/v1/senders")

    # --- campaigns --------------------------------------------------------------------------------

    async def list_campaigns(
        self,
        token: str,
        *,
        name: str | None = None,
        flow_id: int | None = None,
        group_id: int | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> CampaignPage:
        params = {
            "name": name,
            "flow_id": flow_id,
            "group_id": group_id,
            "status": status,
            "cursor": cursor,
            "limit": limit,
        }
        return await self.request("GET", "/api/v1/campaigns", token=token, params=params)

    async def get_campaign(self, token: str, campaign_id: int) -> CampaignInfo:
        return await self.request("GET", f"/api/v1/campaigns/{campaign_id}", token=token)

    async def create_campaign(self, token: str, form: dict[str, Any]) -> CampaignInfo:
        return await self.request("POST", "/api/v1/campaigns", token=token, json=form)

    async def update_campaign(self, token: str, campaign_id: int, changes: dict[str, Any]) -> CampaignInfo:
        """Only a scheduled or paused campaign can change; a 409 :class:`ApiError` says why not."""
        return await self.request("PATCH", f"/api/v1/campaigns/{campaign_id}", token=token, json=changes)

    async def delete_campaign(self, token: str, campaign_id: int) -> None:
        await self.request("DELETE", f"/api/v1/campaigns/{campaign_id}", token=token)

    async def suspend_campaign(self, token: str, campaign_id: int) -> CampaignInfo:
        return await self.request("POST", f"/api/v1/campaigns/{campaign_id}/suspend", token=token)

    async def end_campaign(self, token: str, campaign_id: int) -> CampaignInfo:
        return await self.request("POST", f"/api/v1/campaigns/{campaign_id}/end", token=token)

    async def resume_campaign(self, token: str, campaign_id: int, start_at: str) -> CampaignInfo:
        return await self.request(
            "POST", f"/api/v1/campaigns/{campaign_id}/resume", token=token, json={"start_at": start_at}
        )

    async def campaign_audience(self, token: str, campaign_id: int) -> AudienceInfo:
        return await self.request("GET", f"/api/v1/campaigns/{campaign_id}/audience", token=token)

    async def campaign_stats(self, token: str, campaign_id: int) -> CampaignStats:
        return await self.request("GET", f"/api/v1/campaigns/{campaign_id}/stats", token=token)

    async def preview_campaign(self, token: str, form: dict[str, Any]) -> CampaignPreview:
        """The plan and the audience of a form that is not saved yet (partial forms answer in part)."""
        return await self.request("POST", "/api/v1/campaigns/preview", token=token, json=form)

    async def campaign_messages(
        self,
        token: str,
        campaign_id: int,
        *,
        status: str | None = None,
        failure_reason: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The newest messages of a campaign (e.g. the contacts behind one failure reason)."""
        params = {
            "campaign_id": campaign_id,
            "status": status,
            "failure_reason": failure_reason,
            "limit": limit,
        }
        page = await self.request("GET", "/api/v1/messages", token=token, params=params)
        return page["items"]

    async def download(self, token: str, path: str, *, params: dict[str, Any] | None = None) -> bytes:
        """A CSV (or any body) as bytes, for ``ui.download``: reports and excluded lists."""
        if self._client is None:
            await self.start()
        assert self._client is not None
        try:
            response = await self._client.get(
                path,
                params={key: value for key, value in (params or {}).items() if value is not None},
                headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"},
                timeout=DOWNLOAD_TIMEOUT,
            )
        except httpx.TransportError as exc:
            raise BackendUnreachable(self.base_url, type(exc).__name__) from exc
        if not response.is_success:
            _decode(response)  # raises ApiError with the API's sentence
        return response.content

    async def upload(self, token: str, path: str, *, filename: str, data: bytes, form: dict[str, str]) -> Any:
        """A CSV file and form fields as ``multipart/form-data`` (imports); decoded like :meth:`request`."""
        if self._client is None:
            await self.start()
        assert self._client is not None
        try:
            response = await self._client.post(
                path,
                files={"file": (filename, data, "text/csv")},
                data=form,
                headers={"Authorization": f"Bearer {token}"},
                timeout=DOWNLOAD_TIMEOUT,
            )
        except httpx.TransportError as exc:
            raise BackendUnreachable(self.base_url, type(exc).__name__) from exc
        return _decode(response)

    async def all_items(self, token: str, path: str) -> list[Any]:
        """Every item of a paginated list, for pickers (bounded: see :meth:`_all`)."""
        return await self._all(token, path)

    def websocket_url(self, path: str) -> str:
        """``ws://`` (or ``wss://``) form of an API path, for the live feeds."""
        return "ws" + self.base_url.removeprefix("http") + path

    async def _all(self, token: str, path: str, *, most: int = 2_000) -> list[Any]:
        """Every item of a paginated list (pickers need them all; ``most`` bounds a runaway list)."""
        items: list[Any] = []
        cursor: str | None = None
        while len(items) < most:
            page = await self.request("GET", path, token=token, params={"cursor": cursor, "limit": 500})
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items


def _decode(response: httpx.Response) -> Any:
    if response.is_success:
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        # Not Flowgate's error shape: a proxy page or a crash before the app answered.
        raise ApiError(response.status_code, f"the API answered HTTP {response.status_code}")
    field_errors: dict[str, str] = {}
    for problem in body.get("errors") or []:
        if isinstance(problem, dict) and "field" in problem:
            field_errors.setdefault(str(problem["field"]), str(problem.get("message", "")))
    reset = response.headers.get("retry-after") or response.headers.get("ratelimit-reset")
    raise ApiError(
        response.status_code,
        str(body.get("detail") or f"HTTP {response.status_code}"),
        field_errors,
        code=str(body.get("error", "")),
        retry_after=int(reset) if reset and reset.isdigit() else None,
    )


api = BackendClient()
"""The one client of this process; :func:`ui.app.run_ui` points it at ``settings.api_url``."""
