"""``agqc serve``: a live playground in the browser, bound to 127.0.0.1.

Takes a folder; gives a local web page where a spec's source is edited beside its diagnostics,
its interactive drawing and its summary, all recomputed as you type, and saved back into the
folder only when asked.  ``app`` starts it, ``http`` answers the page and its JSON API,
``files`` decides which paths may be read and written, ``checking`` checks unsaved text,
``page`` is the page itself (HTML, CSS and JavaScript in one string, nothing fetched).
"""
