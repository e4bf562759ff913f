"""HTTP endpoints of previews. Previews never reach a provider: they only draw bubbles."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.previews.schemas import PreviewCreate, PreviewOut, PreviewReply
from backend.previews.service import PreviewHost, preview_out
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role


def _out(record) -> PreviewOut:
    return msgspec.convert(preview_out(record), PreviewOut)


class PreviewController(Controller):
    path = "/previews"
    tags = ["previews"]
    # Walking a preview changes nothing but the preview itself: viewers may do it too.
    guards = [allow(read=Role.viewer, write=Role.viewer)]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Start a preview of a published flow version as a test contact",
    )
    async def start(self, principal: Caller, state: State, data: JSONBody[PreviewCreate]) -> PreviewOut:
        host = PreviewHost(state.queue, state.http)
        return _out(await host.start(principal, data.flow_id, data.version, data.contact, data.seed))

    @get("/{preview_id:str}", summary="The preview's transcript, active node and path")
    async def get_preview(self, principal: Caller, state: State, preview_id: FromPath[str]) -> PreviewOut:
        return _out(await PreviewHost(state.queue, state.http).load(principal, preview_id))

    @post(
        "/{preview_id:str}/reply",
        status_code=HTTP_200_OK,
        summary="Reply as the test contact: text or a button",
    )
    async def reply(
        self, principal: Caller, state: State, preview_id: FromPath[str], data: JSONBody[PreviewReply]
    ) -> PreviewOut:
        host = PreviewHost(state.queue, state.http)
        return _out(await host.reply(principal, preview_id, data.text, data.button_id))

    @post(
        "/{preview_id:str}/skip-wait",
        status_code=HTTP_200_OK,
        summary="Fire the pending delay or reply timeout now, as if the time had passed",
    )
    async def skip_wait(self, principal: Caller, state: State, preview_id: FromPath[str]) -> PreviewOut:
        return _out(await PreviewHost(state.queue, state.http).skip_wait(principal, preview_id))
