"""``OPTIONS`` for paths whose methods are separate handler functions (the public pages).

Litestar (2.25) builds a path's automatic ``OPTIONS`` answer when the path's first handler registers and
never updates it for handlers registered after: ``/optout`` and ``/u/{token}`` answered
``Allow: GET, OPTIONS`` although both take POST (the form and RFC 8058 one-click unsubscribes). Handlers
grouped in a controller register together and are not affected. :func:`options_for` makes an explicit
handler that reads the path's methods from the app when asked, so it stays right whatever registers later;
list it before the path's other handlers, since a path that has an ``OPTIONS`` handler gets no automatic one.

The same stale list shows up on the API's paths (``OPTIONS /api/v1/api-keys`` said ``OPTIONS, POST``, no GET),
where the automatic handlers come from controllers. Rather than an explicit handler per path,
:func:`answer_options` runs in the application's ``before_request`` chain and answers every ``OPTIONS`` from
the app's own method map, after the edge rules (an id out of range is still a 404).
"""

from __future__ import annotations

import re

from litestar import Request, Response, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT

_PARAM_TYPE = re.compile(r":[a-z]+}")


def allowed_methods(request: Request) -> str:
    """The ``Allow`` value for the path that ``request`` matched: every method a handler takes there."""
    methods: set[str] = {"OPTIONS"}
    for path in request.scope["route_handler"].paths:
        methods.update(request.app.route_handler_method_map.get(path, {}))
    # An automatic handler's own path may be relative to its router: match the route by the template too.
    template = request.scope.get("path_template")
    for app_route in request.app.routes:
        if isinstance(app_route, HTTPRoute) and app_route.path_format == template:
            methods.update(app_route.methods)
    return ", ".join(sorted(methods))


async def answer_options(request: Request) -> Response[None] | None:
    """``before_request`` hook: answer an ``OPTIONS`` request with 204 and the path's real ``Allow``."""
    if request.method != HttpMethod.OPTIONS:
        return None
    return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allowed_methods(request)})


def options_for(path: str, *, tags: list[str] | None = None) -> HTTPRouteHandler:
    """An ``OPTIONS`` handler for ``path`` (as the other handlers spell it) answering 204 with ``Allow``."""

    async def options(request: Request) -> Response[None]:
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allowed_methods(request)})

    return route(
        path,
        http_method=[HttpMethod.OPTIONS],
        exclude_from_auth=True,
        status_code=HTTP_204_NO_CONTENT,
        tags=tags,
        summary="The methods this path takes, in the Allow header",
        name=f"options:{path}",
        # Litestar derives operation ids from the function, the same for every path: "OptionsUToken".
        operation_id="Options"
        + "".join(word.title() for word in re.findall(r"[A-Za-z]+", _PARAM_TYPE.sub("}", path))),
    )(options)
