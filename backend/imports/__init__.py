"""CSV imports that run in the worker: the upload is stored in chunks before the API answers, then
streamed row by row, with progress and per-row errors kept on the import."""
