"""The API's endpoints by domain, for the pages of that domain.

:mod:`ui.backend` is the transport every call goes through (one shared ``httpx`` client, errors as
:class:`~ui.backend.ApiError` and :class:`~ui.backend.BackendUnreachable`) and holds the calls of the
sign-in, flows and campaigns; each module here holds the calls of one more domain as plain functions
over ``api.request``, so a page imports the few it needs and no module grows past reading.
"""
