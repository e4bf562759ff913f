"""HTTP endpoints of runs: start an API-triggered flow, and a contact's runs. Registered through CONTROLLERS."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from backend.core.pagination import CursorParam, LimitParam, Page
from backend.runs import service
from backend.runs.schemas import RunOut, RunStart
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role


class FlowRunController(Controller):
    path = "/flows/{flow_id:int}/runs"
    tags = ["runs"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Start an API-triggered flow for one contact",
        description="The flow's latest published version must start with the `api` trigger (409 "
        "otherwise). Give `contact_id`, or `to` (an address on the sender's channel: the contact is found "
        "or created). `attributes` are what the run sees as `{{contact.<name>}}`; they are not saved on "
        "the contact. The run is stepped at once: the answer shows where it stands (its first messages "
        "are queued, or it already waits).",
    )
    async def start_run(
        self, principal: Caller, flow_id: FromPath[int], data: JSONBody[RunStart], state: State
    ) -> RunOut:
        return await service.start_api_run(principal, flow_id, data, state.queue)


class ContactRunController(Controller):
    path = "/contacts/{contact_id:int}/runs"
    tags = ["runs"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @get("/", summary="A contact's flow runs (campaign, keyword, API), newest first")
    async def list_runs(
        self, principal: Caller, contact_id: FromPath[int], cursor: CursorParam = None, limit: LimitParam = 50
    ) -> Page[RunOut]:
        items, next_cursor = await service.contact_runs(principal.workspace_id, contact_id, cursor, limit)
        return Page(items=items, next_cursor=next_cursor)


CONTROLLERS = [FlowRunController, ContactRunController]
